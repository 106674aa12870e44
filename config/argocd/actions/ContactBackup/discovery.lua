-- Argo CD action discovery for ContactBackup: backup-now takes a snapshot at once.
local actions = {}
actions["backup-now"] = {
  ["disabled"] = obj.spec ~= nil and obj.spec.suspend == true,
  ["iconClass"] = "fa fa-fw fa-save",
  ["displayName"] = "Back up now"
}
return actions
