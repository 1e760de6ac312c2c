"""{{ cookiecutter.project_name | trim | replace('\\', '\\\\') | replace('"', '\\"') }}.

{{ cookiecutter.description | trim | wordwrap(88) | replace('\\', '\\\\') | replace('"', '\\"') }}
"""
