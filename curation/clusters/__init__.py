"""Cluster-based curation: similar pairs grouped, titled, judged and dropped a cluster at a time."""
