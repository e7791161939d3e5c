"""What the platform offers: agents and tools."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Agents, Registry, User
from api.schemas import AgentOut, ToolOut

router = APIRouter(prefix="/v1", tags=["catalog"])


@router.get("/agents", response_model=list[AgentOut])
async def list_agents(_: User, agents: Agents) -> list[AgentOut]:
    out = []
    for name in agents.names():
        plan = agents.build(name)
        out.append(
            AgentOut(
                name=name,
                description=agents.definitions[name].description,
                model=plan.model,
                tools=[t.name for t in plan.tools],
            )
        )
    return out


@router.get("/tools", response_model=list[ToolOut])
async def list_tools(_: User, registry: Registry) -> list[ToolOut]:
    return [
        ToolOut(
            **t.spec().model_dump(include={"name", "description", "parameters", "requires_approval", "side_effects"})
        )
        for t in registry
    ]
