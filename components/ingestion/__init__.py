"""The ingestion plane (ADR-0011): Strimzi Kafka, the topic registry as KafkaTopics, a principal per client."""
