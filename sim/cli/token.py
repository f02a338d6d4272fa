"""``feedertwin token``: the API tokens of a live site (create, list, revoke).

The tokens are kept hashed in the site's store file (``sim.api.tokens``); ``create`` prints the
new token once, and only then. Works while ``feedertwin live`` runs: a revoked token is refused
at its next request.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime


def add_parser(sub: argparse._SubParsersAction) -> None:
    token = sub.add_parser("token", help="create, list or revoke the API tokens of a live site",
                           description="API tokens for feedertwin live --api: scope read (every read endpoint) "
                                       "or control (the actions too). Stored hashed in the site's store.")
    actions = token.add_subparsers(dest="token_action", metavar="ACTION")
    actions.required = True
    create = actions.add_parser("create", help="create a token and print it (once)")
    create.add_argument("site", metavar="SITE.toml", help="the live site file (its store keeps the tokens)")
    create.add_argument("--scope", choices=("read", "control"), required=True,
                        help="read: every read endpoint; control: the actions too")
    create.add_argument("--name", required=True, help="who uses the token (unique among active tokens; "
                                                      "actions are logged under it)")
    listing = actions.add_parser("list", help="list the tokens (never the tokens themselves)")
    listing.add_argument("site", metavar="SITE.toml")
    listing.add_argument("--all", action="store_true", help="also the revoked ones")
    revoke = actions.add_parser("revoke", help="revoke a token by name")
    revoke.add_argument("site", metavar="SITE.toml")
    revoke.add_argument("--name", required=True, help="the name of the active token to revoke")
    token.set_defaults(func=command)


def _utc(t_s: float) -> str:
    return datetime.fromtimestamp(t_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def command(args: argparse.Namespace) -> int:
    from sim.api.tokens import TokenStore
    from sim.live.site_file import load_site

    site = load_site(args.site)
    with TokenStore(site.store_path) as tokens:
        if args.token_action == "create":
            token, info = tokens.create(args.name, args.scope)
            print(token)
            print(f"token '{info.name}' (scope {info.scope}) created; it is shown only now: keep it secret. "
                  "Use it as 'Authorization: Bearer <token>'.")
        elif args.token_action == "list":
            rows = tokens.tokens(include_revoked=args.all)
            if not rows:
                print("no tokens" if args.all else "no active tokens")
            for info in rows:
                revoked = f"  revoked {_utc(info.revoked_t_s)}" if info.revoked_t_s is not None else ""
                print(f"{info.name}\t{info.scope}\tcreated {_utc(info.created_t_s)}{revoked}")
        else:
            info = tokens.revoke(args.name)
            print(f"token '{info.name}' (scope {info.scope}) revoked")
    return 0
