-- Asks the operator for a snapshot now: a new value of the ocs.ocsha.io/backup-now annotation
-- is one request (status.lastHandledRequest echoes it once handled).
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["ocs.ocsha.io/backup-now"] = os.date("!%Y-%m-%dT%H:%M:%SZ")
return obj
