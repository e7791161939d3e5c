"""Where every platform tool is declared (plugins too: ``@tools.register(...)``).

Declaring is all a decorator does; ``services.tools.load_tools`` builds the registry a
process serves from the modules it names.
"""

from core.tools import ToolDeclarations

tools = ToolDeclarations()
