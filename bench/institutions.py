"""`GET /institutions` as JSON, as a page and as an htmx fragment, and `GET /institutions/UIU`,
on SQLite and on PostgreSQL, with 32 concurrent clients (issue 2).

    .venv/bin/python -m bench.institutions [--duration 10] [--only sqlite|postgres]
"""

import argparse
from typing import NamedTuple

from bench.common import (
    DATABASES,
    check,
    drive,
    observe,
    report,
    start_server,
    token,
)

ACCOUNT = "liaison@uiu.example.edu"
JSON = "application/json"
HTML = "text/html"


class Scenario(NamedTuple):
    label: str
    path: str
    headers: dict[str, str]
    content_type: str
    present: tuple[str, ...]  # texts the response must contain …
    absent: tuple[str, ...] = ()  # … and must not: proof of the representation timed
    signed_in: bool = True


SCENARIOS = (
    Scenario("/healthz (ceiling)", "/healthz", {}, JSON, ('"ok"',), signed_in=False),
    Scenario("list JSON", "/institutions", {"Accept": JSON}, JSON, ('"data":[{',), ("<",)),
    Scenario("list page", "/institutions", {"Accept": HTML}, HTML, ("<html", "<tbody")),
    Scenario(
        "list fragment", "/institutions", {"HX-Request": "true"}, HTML, ("<tbody",), ("<html",)
    ),
    Scenario("detail JSON", "/institutions/UIU", {"Accept": JSON}, JSON, ('"code":"UIU"',)),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per request kind")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent clients")
    parser.add_argument("--only", choices=sorted(DATABASES), help="one database only")
    args = parser.parse_args()
    for database in [args.only] if args.only else list(DATABASES):
        url = DATABASES[database]
        rows = []
        with start_server(url) as base_url:
            bearer = {"Authorization": f"Bearer {token(base_url, ACCOUNT)}"}
            for scenario in SCENARIOS:
                headers = {**scenario.headers, **(bearer if scenario.signed_in else {})}
                check(
                    base_url + scenario.path,
                    headers,
                    scenario.content_type,
                    scenario.present,
                    scenario.absent,
                )
                figures = drive(
                    base_url + scenario.path,
                    headers,
                    concurrency=args.concurrency,
                    duration=args.duration,
                )
                seen = observe("GET", scenario.path, headers, url)
                rows.append(
                    {
                        "request": scenario.label,
                        **figures,
                        "sql/req": len(seen.statements),
                        "hops/req": seen.thread_hops,
                    }
                )
        report(rows, f"{database}: {args.concurrency} clients, {args.duration:g} s per row")


if __name__ == "__main__":
    main()
