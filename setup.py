"""What goes into the wheel; everything else about the project is in pyproject.toml.

Besides ``src/pilot_tracker`` (with its migrations), the wheel carries what an installed
pilot-tracker needs to run without a checkout, from the folders where the checkout keeps
them (prefect.yaml and the README name them there):

- ``flows/``: the Prefect flows, as the top-level package ``flows`` (the name prefect.yaml's
  entry points and the flows' own imports use; ``pilot_tracker`` never imports Prefect);
- ``templates/``: the message and report templates, as ``pilot_tracker/templates``;
- ``examples/``: the example programs the demo plays, the example city over them and the
  districts' accounts of their practice for its bulletin, as
  ``pilot_tracker/examples``.

pyproject.toml cannot both find the packages under ``src/`` and map folders from beside it
into them; this file does only that.
"""

from setuptools import find_namespace_packages, setup

setup(
    packages=[
        *find_namespace_packages("src"),  # migrations/ has no __init__.py
        "flows",
        # data folders, named as packages so that setuptools ships them (and says nothing)
        "pilot_tracker.templates",
        "pilot_tracker.templates.alerts",
        "pilot_tracker.templates.reports",
        "pilot_tracker.templates.portal",
        "pilot_tracker.templates.portal.static",
        "pilot_tracker.examples",
        "pilot_tracker.examples.programs",
        "pilot_tracker.examples.cities",
        "pilot_tracker.examples.accounts",
    ],
    package_dir={
        "": "src",
        "flows": "flows",
        "pilot_tracker.templates": "templates",
        "pilot_tracker.examples": "examples",
    },
    package_data={
        "pilot_tracker.migrations": ["*.mako"],
        "pilot_tracker.templates": ["*.md"],
        "pilot_tracker.templates.alerts": ["*.j2"],
        "pilot_tracker.templates.reports": ["*.j2"],
        "pilot_tracker.templates.portal": ["*.j2"],
        "pilot_tracker.templates.portal.static": ["*.css", "*.js"],
        "pilot_tracker.examples": ["*.yml"],
        "pilot_tracker.examples.programs": ["*.yaml"],
        "pilot_tracker.examples.cities": ["*.yaml"],
        "pilot_tracker.examples.accounts": ["*.md"],
    },
)
