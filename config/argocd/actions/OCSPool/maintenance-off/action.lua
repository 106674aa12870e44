-- Sets spec.servers[].maintenance to false for the server named by the "server" parameter.
-- Rendered by make manifests from OCSPool/maintenance.lua.tmpl into maintenance-on and
-- maintenance-off: Argo CD actions cannot share code at run time, so they share a template.
local maintenance = false
local name = actionParams ~= nil and actionParams["server"] or nil
if name == nil or name == "" then
  error("the server parameter names the server (spec.servers[].name)", 0)
end
local names, found, serving = {}, nil, 0
for _, s in ipairs(obj.spec.servers) do
  table.insert(names, s.name)
  if s.name == name then
    found = s
  end
  if s.maintenance ~= true then
    serving = serving + 1
  end
end
if found == nil then
  error("OCSPool " .. obj.metadata.name .. " has no server " .. name .. "; its servers: " .. table.concat(names, ", "), 0)
end
if maintenance and found.maintenance ~= true and serving < 2 then
  error("server " .. name .. " is the last one out of maintenance: its users would have nowhere to go", 0)
end
found.maintenance = maintenance
return obj
