"""Risks a stack may accept, in the words its config must repeat to accept them (read by the config's rules and by
the environments' defaults)."""

# storage.backups.singleSiteAcknowledged: no copy of the backups leaves the site (foundry/config/backups.py)
SINGLE_SITE_RISK = "losing the Ceph cluster loses the databases and their backups together"
