"""`twist dialer --config FILE`: the Minyi daemon as a Twisted application plugin."""

from twisted.application.service import ServiceMaker

dialer = ServiceMaker(
    "Minyi dialer",
    "dialer.tap",
    "Survey dialer daemon: AMI, FastAGI, campaigns, /metrics (民意调查外呼守护进程)",
    "dialer",
)
