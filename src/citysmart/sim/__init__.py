"""The city simulator that feeds the demo: simulated devices on real Sejong geography."""
