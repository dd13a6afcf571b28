"""Building the daemon: schema refused when stale, services in start order."""

import pytest
from twisted.python import usage

from dialer import tap
from dialer.errors import StaleSchemaError
from dialer.store.engine import create_engine
from dialer.store.migrate import upgrade


def config(tmp_path, url):
    (tmp_path / "ivr").mkdir(exist_ok=True)
    path = tmp_path / "dialer.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n[[ami]]\nsecret = "x"\nendpoint = "tcp:127.0.0.1:1"\n'
        f'[agi]\nscripts = "{tmp_path / "ivr"}"\n[agents]\nnames = ["agent1"]\n',
        encoding="utf-8",
    )
    return str(path)


def test_stale_schema_refused(tmp_path):
    """An empty database stops the daemon before anything starts."""
    from twisted.internet import reactor

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(StaleSchemaError):
        tap.build(config(tmp_path, url), None, reactor)


def test_build_orders_services(tmp_path):
    """AMI, FastAGI, HTTP as children; the campaign supervisor outside them."""
    from twisted.internet import reactor

    from dialer.ami.client import AMIClient
    from dialer.service import CampaignSupervisor

    url = f"sqlite:///{tmp_path / 'ok.db'}"
    eng = create_engine(url)
    upgrade(eng)
    eng.dispose()
    service = tap.build(config(tmp_path, url), None, reactor)
    kinds = [type(s).__name__ for s in service]
    assert isinstance(next(iter(service)), AMIClient)
    assert kinds[1:] == ["FastAGIService", "StreamServerEndpointService"]
    # started after the children, stopped before them (drains while AMI is up)
    assert isinstance(service.supervisor, CampaignSupervisor)
    service.pool.stop()


def test_options_require_config():
    """`twist dialer` without --config is a usage error."""
    with pytest.raises(usage.UsageError, match="--config"):
        tap.Options().parseOptions([])
