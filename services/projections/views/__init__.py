"""Every view the read side maintains, each a :class:`~services.projections.projection.Projection`."""

from __future__ import annotations

from services.projections.projection import Projection
from services.projections.views.audit import AuditView
from services.projections.views.connection_list import ConnectionListView
from services.projections.views.connection_status import ConnectionStatusView
from services.projections.views.data_model import DataModelView
from services.projections.views.processes import ProcessesView

__all__ = ["AuditView", "ConnectionListView", "ConnectionStatusView", "DataModelView", "ProcessesView",
           "all_views"]


def all_views() -> list[Projection]:
    """A fresh instance of every view, in the order the runner applies them."""
    return [ConnectionListView(), ConnectionStatusView(), ProcessesView(), DataModelView(), AuditView()]
