"""docs/campaigns.md shows the disposition table the code uses."""

from pathlib import Path

from dialer.campaign.dispositions import markdown_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "campaigns.md"


def test_doc_table_matches_code():
    """The table between the markers is exactly RULES rendered."""
    text = DOC.read_text(encoding="utf-8")
    table = text.split("<!-- dispositions:start -->\n", 1)[1].split("<!-- dispositions:end -->", 1)[
        0
    ]
    assert table == markdown_table()
