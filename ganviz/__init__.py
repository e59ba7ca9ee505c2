"""ganviz: watch a toy GAN learn."""

__version__ = "0.1.0"
