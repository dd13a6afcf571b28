"""Minyi (民意): survey dialer and IVR engine for public-opinion telephone surveys on Asterisk."""

__version__ = "0.1.0"
__all__ = ["__version__"]
