"""`python -m pipelines token`: print an access token of the local development issuer.

Only the token goes to stdout, so it can be used inline:

    curl -H "Authorization: Bearer $(python -m pipelines token --roles Pipelines.Read)" ...

(The module is not called `token.py`: that is a standard-library module.)
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from pipelines.auth import devissuer
from pipelines.auth.permissions import Permission

if TYPE_CHECKING:
    from pipelines.cli import Subparsers

_KNOWN = {p.value for p in Permission if p is not Permission.ANONYMOUS}


def _names(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _lifetime(value: str) -> int:
    try:
        seconds = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number of seconds") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return seconds


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "token",
        help="print an access token of the local development issuer",
        description=(
            "Mint an access token signed by the local development key (.devkeys/, or\n"
            "PIPELINES_DEV_KEY_DIR) for the development tenant and audience. The local\n"
            "host trusts it; Azure never does, and the command refuses to run there.\n"
            "Only the token is printed, on one line."
        ),
        epilog=(
            "example:\n  curl -H \"Authorization: Bearer $(python -m pipelines token "
            "--roles Pipelines.Read)\" http://127.0.0.1:7071/pipelines/v1.0/..."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--roles",
        type=_names,
        default=devissuer.DEFAULT_ROLES,
        metavar="ROLE[,ROLE...]",
        help=(
            "app roles of the token (the 'roles' claim), comma-separated; default: all of "
            f"{','.join(devissuer.DEFAULT_ROLES)}; --roles '' for none"
        ),
    )
    parser.add_argument(
        "--scopes",
        type=_names,
        default=(),
        metavar="SCOPE[,SCOPE...]",
        help="delegated scopes (the 'scp' claim), comma-separated; default: none",
    )
    parser.add_argument(
        "--lifetime", type=_lifetime, default=3600, metavar="SECONDS", help="default: 3600"
    )
    parser.add_argument(
        "--audience", default=None, help=f"the 'aud' claim; default: {devissuer.DEV_AUDIENCE}"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    unknown = sorted((set(args.roles) | set(args.scopes)) - _KNOWN)
    if unknown:
        # Allowed (to try what an unknown role does), but likely a typo.
        known = ", ".join(sorted(_KNOWN))
        print(f"warning: {', '.join(unknown)} grant nothing; known: {known}", file=sys.stderr)
    token = devissuer.mint(
        args.roles, args.scopes, lifetime_seconds=args.lifetime, audience=args.audience
    )
    print(token)
    return 0
