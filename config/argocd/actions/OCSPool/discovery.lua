-- Argo CD action discovery for OCSPool: maintenance on or off for one server (parameter
-- "server", a name of spec.servers). Argo CD 3.1 or later passes parameters.
local actions = {}
local inMaintenance, serving = 0, 0
if obj.spec ~= nil and obj.spec.servers ~= nil then
  for _, s in ipairs(obj.spec.servers) do
    if s.maintenance == true then
      inMaintenance = inMaintenance + 1
    else
      serving = serving + 1
    end
  end
end
actions["maintenance-on"] = {
  -- The last server out of maintenance must stay: its users would have nowhere to go.
  ["disabled"] = serving < 2,
  ["iconClass"] = "fa fa-fw fa-wrench",
  ["displayName"] = "Maintenance on (drain a server)",
  ["params"] = {{["name"] = "server"}}
}
actions["maintenance-off"] = {
  ["disabled"] = inMaintenance == 0,
  ["iconClass"] = "fa fa-fw fa-undo",
  ["displayName"] = "Maintenance off (return a server)",
  ["params"] = {{["name"] = "server"}}
}
return actions
