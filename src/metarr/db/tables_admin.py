"""The web UI's single admin account (argon2 password hash, never shown anywhere)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from metarr.db.tables import Base

ADMIN_ROW_ID = 1  # the table holds at most this one row (a check constraint says so)


class AdminAccountRow(Base):
    """The admin who logs in to the web UI."""

    __tablename__ = "admin_account"
    __table_args__ = (CheckConstraint(f"id = {ADMIN_ROW_ID}", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    username: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(Text)  # argon2 PHC string; never logged or shown
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
