"""Packaging for nano-serve: every setting lives in settings.ini (nbdev 2 style)."""
from configparser import ConfigParser
import setuptools

cfg = ConfigParser(delimiters=['='])
cfg.read('settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']

def _list(key):
    "A space-separated settings.ini entry as a list."
    return cfg.get(key, '').split()

setuptools.setup(
    name=cfg['repo'], version=cfg['version'], description=cfg['description'],
    long_description=open('README.md', encoding='utf-8').read(), long_description_content_type='text/markdown',
    author=cfg['author'], author_email=cfg['author_email'], license='Apache-2.0',
    url=cfg['git_url'], python_requires=f">={cfg['min_python']}",
    packages=setuptools.find_packages(include=['nano_serve', 'nano_serve.*']),
    package_data={'nano_serve': ['configs/*.json', 'proto/*.proto', 'proto/*.pyi']}, include_package_data=True,
    install_requires=_list('requirements'), extras_require={'dev': _list('dev_requirements')},
    entry_points={'console_scripts': _list('console_scripts'), 'nbdev': [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"]},
    zip_safe=False,
)
