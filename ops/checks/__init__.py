"""Whether what a stack renders is right: schemas (the operators' real CRDs), pod admission, the flows its
NetworkPolicies allow and refuse, the policy audit; and the platform as it will run, read from the manifests."""
