"""fanart.tv v3 payload models: every number arrives as a string."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Image(BaseModel):
    """One image of any type (`disc`/`disc_type` only on moviedisc)."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    url: str
    lang: str | None = None
    likes: int | None = None  # "7" in the payload
    disc: str | None = None
    disc_type: str | None = None


class MovieImages(BaseModel):
    """`GET /v3/movies/{tmdb_or_imdb_id}`."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    tmdb_id: str | None = None
    imdb_id: str | None = None
    hdmovielogo: list[Image] = Field(default_factory=list)
    movielogo: list[Image] = Field(default_factory=list)
    hdmovieclearart: list[Image] = Field(default_factory=list)
    movieart: list[Image] = Field(default_factory=list)
    moviedisc: list[Image] = Field(default_factory=list)
    moviebanner: list[Image] = Field(default_factory=list)
    moviethumb: list[Image] = Field(default_factory=list)
    movieposter: list[Image] = Field(default_factory=list)
    moviebackground: list[Image] = Field(default_factory=list)
    movie4kbackground: list[Image] = Field(default_factory=list)
