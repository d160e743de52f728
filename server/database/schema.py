"""Every domain's tables, imported once so the metadata (and Alembic) sees them all."""

from __future__ import annotations

from bodycam.server.access import models as _access
from bodycam.server.audit import models as _events
from bodycam.server.custody import models as _custody
from bodycam.server.database.base import Base
from bodycam.server.device_audit import models as _audit
from bodycam.server.devices import models as _devices
from bodycam.server.people import models as _people
from bodycam.server.recordings import models as _recordings

__all__ = ["Base"]
_MODULES = (_audit, _devices, _recordings, _people, _access, _events, _custody)
