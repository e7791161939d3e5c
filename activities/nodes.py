"""``node.<name>`` activities: one per node, all with the NodeInput -> NodeOutput contract."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from activities.errors import permanent_errors_not_retried
from activities.heartbeat import heartbeating
from core.activity_names import node_activity
from core.nodes import BaseNode
from core.schemas import NodeInput, NodeOutput


class NodeActivities:
    def __init__(self, nodes: list[BaseNode]) -> None:
        self.nodes = {n.name: n for n in nodes}

    def activities(self) -> list[Callable[..., Any]]:
        return [self._activity(node) for node in self.nodes.values()]

    @staticmethod
    def _activity(node: BaseNode) -> Callable[..., Any]:
        async def run_node(inp: NodeInput) -> NodeOutput:
            async with heartbeating():  # LLM calls can take a while; interval from the activity's timeout
                return await permanent_errors_not_retried(node.run(inp))

        return activity.defn(name=node_activity(node.name))(run_node)
