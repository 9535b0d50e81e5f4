"""The hub's NGSI-LD view (ETSI GS CIM 009)."""
