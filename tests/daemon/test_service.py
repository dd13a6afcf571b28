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


def test_options_validate_config(tmp_path):
    """postOptions loads the file: a bad key is a UsageError naming file and key, not a traceback later."""
    bad = tmp_path / "bad.toml"
    bad.write_text('[[ami]]\nsecret = "x"\n[dialer]\nheartbeat = 0\n', encoding="utf-8")
    with pytest.raises(usage.UsageError, match=r"bad\.toml: \[dialer\]\.heartbeat: .* / "):
        tap.Options().parseOptions(["--config", str(bad)])


def test_options_refuse_stale_schema(tmp_path):
    """postOptions checks the schema: an empty database is a UsageError before makeService."""
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(usage.UsageError, match="upgrade"):
        tap.Options().parseOptions(["--config", config(tmp_path, url)])


def test_options_prepare_what_make_service_uses(tmp_path):
    """A good file: postOptions keeps the loaded config, and makeService builds from it."""
    url = f"sqlite:///{tmp_path / 'ok.db'}"
    eng = create_engine(url)
    upgrade(eng)
    eng.dispose()
    options = tap.Options()
    options.parseOptions(["--config", config(tmp_path, url)])
    assert options.prepared is not None
    assert options.prepared[0].database_url == url
    service = tap.makeService(options)
    assert service.config is options.prepared[0]
    service.pool.stop()
