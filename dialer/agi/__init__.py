"""FastAGI: the wire format (replies), the protocol and server, and the IVR survey runner."""

__all__: list[str] = []
