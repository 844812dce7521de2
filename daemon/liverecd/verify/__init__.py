"""Proof of recording (DESIGN §8): read back what Alibaba recorded, per window."""
