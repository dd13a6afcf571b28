"""Line choice over several Asterisk servers, and the calling-window gate, on the controller."""

import pytest

from dialer.campaign.controller import ControllerSettings
from dialer.pacing.progressive import IvrOnly
from tests.campaign.ctlhelp import T0, Rig
from tests.campaign.fakeami import FakeAMI


@pytest.mark.parametrize(
    ("cap_a", "cap_b", "wanted", "split"), [(3, 3, 4, (2, 2)), (5, 2, 5, (4, 1))]
)
def test_most_free_line_first_not_first_fit(tmp_path, cap_a, cap_b, wanted, split):
    """Each originate goes to the server with the most free lines (3+3 lines, 4 calls: 2 and 2;
    first-fit would give 3 and 1)."""
    a, b = FakeAMI("pbx1"), FakeAMI("pbx2")
    rig = Rig(
        tmp_path, agents=0, lines=[a, b], mode="ivr-only", policy=IvrOnly(wanted), per_unit=20
    )
    rig.lines[0].capacity, rig.lines[1].capacity = cap_a, cap_b
    rig.start()
    assert (len(a.dials), len(b.dials)) == split
    rig.ctl.stopService()


def test_freed_line_refills_the_emptier_server(tmp_path):
    """After a call ends on one of two equally loaded servers, the next originate goes there."""
    a, b = FakeAMI("pbx1"), FakeAMI("pbx2")
    rig = Rig(tmp_path, agents=0, lines=[a, b], mode="ivr-only", policy=IvrOnly(4), per_unit=20)
    rig.lines[0].capacity = rig.lines[1].capacity = 3
    rig.start()
    b.busy(b.dials[0])
    rig.step(0)
    assert (len(a.dials), len(b.dials)) == (2, 3)
    rig.ctl.stopService()


def test_calling_window_open_dials_until_it_closes(tmp_path):
    """Inside the window (Wednesday 17:00-18:00 in Shanghai) calls are dialed; at 18:00 dialing stops."""
    rig = Rig(
        tmp_path,
        settings=ControllerSettings(always_open=False),
        campaign_kw={"windows": [{"days": [2], "start": "17:00", "end": "18:00"}]},
    )
    rig.start()  # T0 is Wednesday 17:46:40 in Shanghai
    assert rig.ctl.dialing_blocked(rig.clock.seconds()) is None
    assert len(rig.ami.dials) == 2
    rig.ami.busy(rig.ami.dials[0])
    rig.step(1)
    assert len(rig.ami.dials) == 3  # the freed agent gets the next contact at once
    rig.step(T0 + 800 - rig.clock.seconds())  # 18:00:00
    assert rig.ctl.dialing_blocked(rig.clock.seconds()) == "outside calling windows"
    rig.ami.busy(rig.ami.dials[1])
    rig.step(60)
    assert len(rig.ami.dials) == 3
    rig.ctl.stopService()
