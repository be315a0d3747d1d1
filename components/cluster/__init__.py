"""What the planes stand on in the cluster: the operators (official charts) and one namespace per plane."""
