"""Post Office Lab: learn why services talk through message queues — by breaking them."""
