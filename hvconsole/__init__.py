"""hvconsole: a desktop console for one site's Windows Server Hyper-V hosts."""

__version__ = "0.1.0"
