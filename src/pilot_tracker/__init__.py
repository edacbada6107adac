"""pilot-tracker: supervise youth-development pilot programs.

The package is the domain: plain Python that never imports Prefect, Typer or a web
framework, and never reads the clock or the settings. Entry points (``cli``, ``flows/``)
do that and pass explicit arguments down.
"""

__version__ = "0.1.0"
