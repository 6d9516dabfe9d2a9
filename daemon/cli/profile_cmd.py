"""``shadowlens profile`` and ``shadowlens alerts``: what the photos reveal, and the risky ones."""

from __future__ import annotations

import difflib
from typing import Any

import click
from shadowlens.daemon.cli.context import AppContext, fail, handle_errors, pass_app
from shadowlens.daemon.cli.context import echo as say
from shadowlens.daemon.cli.photos import read_index
from shadowlens.daemon.fsnames import json_text
from shadowlens.daemon.index.writer import Store
from shadowlens.daemon.profile.stored import claims_of
from shadowlens.daemon.wording import agree, backing, plural

EXAMPLES = 3  # evidence paths shown under each statement; --explain shows them all


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the whole profile as JSON on stdout.")
@click.option("--refresh", is_flag=True, help="Rebuild it now rather than show the last one built.")
@click.option(
    "--explain",
    "explain",
    metavar="ID",
    help="Print one statement and every photo behind it, e.g. place.home.",
)
@pass_app
@handle_errors
def profile(app: AppContext, as_json: bool, refresh: bool, explain: str | None) -> None:
    """The shadow profile a marketer would build from your photos."""
    snapshot = read_index(app, lambda reader: reader.profile())
    # A profile stored before statements kept their photos cannot show them: build it anew.
    if snapshot is None or refresh or "claims" not in snapshot:
        snapshot = rebuild(app)
    if explain is not None:
        _explain(snapshot, explain)
    elif as_json:
        click.echo(json_text(snapshot, indent=1))
    else:
        _print_profile(snapshot)


def rebuild(app: AppContext) -> dict[str, Any]:
    from shadowlens.daemon.profile.updater import ProfileUpdater

    store = Store.open(app.index_path)
    try:
        updater = ProfileUpdater(store, app.config)
        updater.catch_up(alert=False)
        return updater.refresh(force=True) or {}
    finally:
        store.close()


def _print_profile(p: dict[str, Any]) -> None:
    echo = say
    count = int(p["photo_count"])
    echo(
        f"What your {plural(count, 'photo')} {agree(count, 'tells', 'tell')} a marketer (built {p['built_at']}):"
    )
    claims = claims_of(p)
    for claim in claims:
        if claim["kind"] != "enjoyment":
            _print_claim(claim)
    enjoyed = [c for c in claims if c["kind"] == "enjoyment"]
    if enjoyed:
        echo("\nWhat you enjoy (faces read by an expression model):")
        for claim in enjoyed:
            _print_claim(claim)
    if claims:
        echo("\n`shadowlens profile --explain ID` lists every photo behind a statement.")
    owner = p.get("owner")
    if owner:
        echo(
            f"\nYou: person {owner['person_id']} ({owner.get('name') or 'unnamed'}),"
            f" {plural(int(owner['photo_count']), 'photo')}"
        )
    if p["people"]:
        echo("\nPeople:")
        for person in p["people"][:10]:
            child = ", child" if person["is_child"] else ""
            name = person["name"] or f"person {person['id']}"
            echo(f"  {name:24} {_count(person['photo_count'])}{child}")
    if p["places"]:
        echo("\nPlaces:")
        for place in p["places"][:10]:
            where = ", ".join(x for x in (place.get("city"), place.get("country_code")) if x)
            echo(f"  {place['label']:9} {where:28} {_count(place['photo_count'])}")
    if p["brands"]:
        echo("\nBrands:")
        for brand in p["brands"][:10]:
            echo(f"  {brand['name']:24} {brand['category']:12} {_count(brand['photo_count'])}")
    if p["segments"]:
        echo("\nSegments a marketer would sell you in:")
        for segment in p["segments"]:
            echo(
                f"  {segment['title']:32} confidence {segment['confidence']:.0%}  [segment.{segment['name']}]"
            )


def _print_claim(claim: dict[str, Any]) -> None:
    """``  - sentence (4 photos on 3 days, confidence 44%)  [id]``, then up to 3 of the photos."""
    say(f"  - {claim['text']} ({backing(claim)})  [{claim['id']}]")
    evidence = list(claim["evidence"])
    if evidence:
        more = f" (+{len(evidence) - EXAMPLES} more)" if len(evidence) > EXAMPLES else ""
        say(f"      {', '.join(evidence[:EXAMPLES])}{more}")


def _explain(p: dict[str, Any], wanted: str) -> None:
    claims = {str(c["id"]): c for c in claims_of(p)}
    claim = claims.get(wanted)
    if claim is None:
        if not claims:
            fail(f"no statement with id '{wanted}': the profile makes no statement yet", 2)
        # cutoff 0: always name the closest id, however far, so the line says what would work
        [near] = difflib.get_close_matches(wanted, sorted(claims), n=1, cutoff=0)
        fail(f"no statement with id '{wanted}' (nearest: '{near}'); `shadowlens profile` lists them all", 2)
    say(f"{claim['text']}  [{claim['id']}]")
    say(backing(claim)[0].upper() + backing(claim)[1:])
    if claim.get("why"):
        say(f"Why: {claim['why']}")
    if claim["evidence"]:
        say("Photos, newest first:")
    for path in claim["evidence"]:
        say(f"  {path}")


def _count(photos: object) -> str:
    """``    1 photo`` / ``   12 photos``: the numbers right-aligned in a column, the noun agreeing."""
    count = int(str(photos))
    return f"{count:5} {agree(count, 'photo', 'photos')}"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the alerts as JSON on stdout.")
@click.option("--all", "include_all", is_flag=True, help="Include seen and dismissed alerts.")
@click.option("--seen", "seen", multiple=True, type=int, metavar="ID", help="Mark alert ID as seen.")
@click.option("--dismiss", multiple=True, type=int, metavar="ID", help="Dismiss alert ID.")
@pass_app
@handle_errors
def alerts(
    app: AppContext, as_json: bool, include_all: bool, seen: tuple[int, ...], dismiss: tuple[int, ...]
) -> None:
    """Risky photos: exposure at or over the alert threshold."""
    if seen or dismiss:
        store = Store.open(app.index_path)
        try:
            changed = store.profile.set_alert_state(seen, "seen") + store.profile.set_alert_state(
                dismiss, "dismissed"
            )
        finally:
            store.close()
        if changed != len(set(seen) | set(dismiss)):
            fail("some of those alert ids do not exist; see `shadowlens alerts --all`")
        return
    items = read_index(app, lambda reader: reader.alerts(include_all))
    if as_json:
        click.echo(json_text(items, indent=1))
        return
    for item in items:
        reasons = "; ".join(r["text"] for r in item["reasons"])
        echo_state = "" if item["state"] == "new" else f" [{item['state']}]"
        say(f"#{item['id']:<5} {item['score']:3}/100 {item['path']}{echo_state}\n        {reasons}")
    if not items:
        say("No " + ("" if include_all else "new ") + "alerts.", err=True)
