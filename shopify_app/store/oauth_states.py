"""One-use ``state`` nonces of the authorization-code install: stored when ``/auth`` sends
the merchant to Shopify, spent by ``/auth/callback``, so a replayed callback finds it used.

Anyone may call ``/auth`` with a valid shop domain and no session, and each call stores a
row; so each new row also deletes the expired ones (spent or not, they can never be used
again), and the table holds at most the nonces of the last ``lifetime``."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import Session

from shopify_app.store.tables import OAuthState

_STATES = OAuthState.__table__


def create(session: Session, nonce: str, shop_domain: str, now: datetime, lifetime: timedelta) -> None:
    """Store the nonce, and delete those older than ``lifetime``, in the caller's transaction."""
    session.execute(delete(_STATES).where(_STATES.c.created_at < now - lifetime))
    session.add(OAuthState(nonce=nonce, shop_domain=shop_domain, created_at=now))


def use(session: Session, nonce: str, shop_domain: str, now: datetime, lifetime: timedelta) -> bool:
    """Spend the nonce: True once, for its own shop, within its lifetime; False otherwise."""
    spent = session.execute(
        update(_STATES)
        .where(_STATES.c.nonce == nonce, _STATES.c.shop_domain == shop_domain, _STATES.c.used_at.is_(None),
               _STATES.c.created_at >= now - lifetime)
        .values(used_at=now)
    )
    return spent.rowcount == 1
