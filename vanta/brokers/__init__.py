"""Broker adapters: the edge where orders leave vanta. Paper by default."""
