"""What handlers and connections see of the app: the services the composition root (server/app.py) built.

A Protocol, so that handler modules, the router and connections depend on this small module and not on
``server/app.py`` (which imports them all): no import cycle in ``server/``.
"""

from __future__ import annotations

from typing import Protocol

from playhub.server.outbuf import OutputBudget
from playhub.server.p2p_relay import RelayHub
from playhub.services.accounts import AccountService
from playhub.services.admin import AdminService
from playhub.services.bus import LocalBus
from playhub.services.catalog import CatalogService
from playhub.services.chat import ChatService
from playhub.services.chat_files import ChatFileService
from playhub.services.downloads import DownloadService
from playhub.services.p2p import P2PService
from playhub.services.presence import PresenceService
from playhub.services.quotas import WindowLimiter
from playhub.services.rooms import RoomService
from playhub.services.sessions import SessionRegistry
from playhub.services.store import StoreService
from playhub.services.uploads import UploadService
from playhub.settings import Settings


class Services(Protocol):
    settings: Settings
    sessions: SessionRegistry
    bus: LocalBus
    output_budget: OutputBudget
    registrations: WindowLimiter
    accounts: AccountService
    admin: AdminService
    instance_id: str
    catalog: CatalogService
    uploads: UploadService
    store: StoreService
    downloads: DownloadService
    presence: PresenceService
    rooms: RoomService
    p2p: P2PService
    relay: RelayHub
    chat: ChatService
    chat_files: ChatFileService
