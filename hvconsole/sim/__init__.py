"""The embedded simulated site: hosts and VMs with behaviour over time, served through a
real WS-Management endpoint on loopback so the product's real client code runs against it."""
