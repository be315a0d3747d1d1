"""Measuring the project itself: the performance figures of `make bench` (and the floors they compare against), and
mutation testing of the security-relevant builders and policies (`make mutate`)."""
