"""asset_candidates: an index on url (an image already downloaded for another movie)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index("ix_asset_candidates_url", "asset_candidates", ["url"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_asset_candidates_url", table_name="asset_candidates")
