"""
The Asterisk Manager Interface: pure framing (L{dialer.ami.message}), the Twisted
protocol (L{dialer.ami.protocol}), the reconnecting client (L{dialer.ami.client}) and the
channel tracker (L{dialer.ami.channels}).
"""

__all__: list[str] = []
