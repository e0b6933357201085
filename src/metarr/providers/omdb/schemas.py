"""OMDb payload models (`?i=tt...`): every value is a string, "N/A" when unknown."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SourceRating(BaseModel):
    """One `Ratings[]` entry: {"Source": "Rotten Tomatoes", "Value": "87%"}."""

    model_config = ConfigDict(extra="ignore")

    source: str = Field(alias="Source")
    value: str = Field(alias="Value")


class Title(BaseModel):
    """`GET /?i={imdb_id}` with `Response: "True"`."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    title: str | None = Field(default=None, alias="Title")
    year: str | None = Field(default=None, alias="Year")
    imdb_id: str | None = Field(default=None, alias="imdbID")
    imdb_rating: str | None = Field(default=None, alias="imdbRating")
    imdb_votes: str | None = Field(default=None, alias="imdbVotes")
    metascore: str | None = Field(default=None, alias="Metascore")
    ratings: list[SourceRating] = Field(default_factory=list, alias="Ratings")
    response: str = Field(default="True", alias="Response")
    error: str | None = Field(default=None, alias="Error")
