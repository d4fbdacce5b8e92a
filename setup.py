"""Package metadata comes from settings.ini (the one place it is written); nbdev reads pyproject.toml."""
from configparser import ConfigParser
from pathlib import Path
from setuptools import find_packages, setup

cfg = ConfigParser(delimiters=['='])
cfg.read(Path(__file__).parent/'settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']
licenses = {'apache2': 'Apache-2.0'}  # SPDX identifier
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable']
readme = Path(__file__).parent/'README.md'

setup(
    name=cfg['lib_name'], version=cfg['version'], description=cfg['description'],
    long_description=readme.read_text(encoding='utf-8') if readme.exists() else '',
    long_description_content_type='text/markdown',
    author=cfg['author'], author_email=cfg['author_email'], license=licenses[cfg['license']],
    keywords=cfg['keywords'].split(), python_requires=f">={cfg['min_python']}",
    classifiers=[f"Development Status :: {statuses[int(cfg['status'])-1]}",
                 'Programming Language :: Python :: 3', 'Intended Audience :: Science/Research',
                 'Topic :: Scientific/Engineering :: Medical Science Apps.'],
    packages=find_packages(include=[cfg['lib_name'], f"{cfg['lib_name']}.*"]),
    include_package_data=True, zip_safe=False,
    install_requires=cfg['requirements'].split(),
    extras_require={'dev': cfg['dev_requirements'].split()},
    entry_points={'console_scripts': cfg['console_scripts'].split(),
                  'nbdev': [f"{cfg['lib_name']}={cfg['lib_name']}._modidx:d"]},
)
