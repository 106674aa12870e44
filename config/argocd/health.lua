-- Argo CD health check for the ocs.ocsha.io kinds (OCSPool, UserHoming, ContactBackup).
-- It reads the conditions every kind reports: Ready, Reconciling, Stalled, Degraded.
local hs = {}

local function conditions(o)
  local byType = {}
  if o.status ~= nil and o.status.conditions ~= nil then
    for _, c in ipairs(o.status.conditions) do
      byType[c.type] = c
    end
  end
  return byType
end

local function isTrue(c)
  return c ~= nil and c.status == "True"
end

if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = obj.kind .. " spec.suspend is true: no action runs"
  return hs
end

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller's first reconcile"
  return hs
end

if obj.metadata ~= nil and obj.metadata.generation ~= nil and
   (obj.status.observedGeneration == nil or obj.status.observedGeneration < obj.metadata.generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to observe generation " .. obj.metadata.generation
  return hs
end

local c = conditions(obj)
if c.Ready ~= nil and c.Ready.reason == "Suspended" then
  hs.status = "Suspended"
  hs.message = c.Ready.message
  return hs
end
if isTrue(c.Stalled) then
  hs.status = "Degraded"
  hs.message = c.Stalled.message
  return hs
end
if isTrue(c.Reconciling) then
  hs.status = "Progressing"
  hs.message = c.Reconciling.message
  return hs
end
if isTrue(c.Degraded) then
  hs.status = "Degraded"
  hs.message = c.Degraded.message
  return hs
end
if isTrue(c.Ready) then
  hs.status = "Healthy"
  hs.message = c.Ready.message
  return hs
end
hs.status = "Progressing"
if c.Ready ~= nil then
  hs.message = c.Ready.message
else
  hs.message = "Waiting for the Ready condition"
end
return hs
