package controllers

import ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"

// Label names of the role and gateway series.
const (
	labelRole    = "role"
	labelGateway = "gateway"
	labelPath    = "path"
)

// The status series of role servers and gateways, computed at scrape time like ocsha_server_up.
var (
	descRoleUp = newStatusDesc("ocsha_role_up",
		"1 when the Mediation or Edge server answers WinRM and runs its role's services (state Healthy), else 0.",
		labelNamespace, labelPool, labelServer, labelRole)
	descGatewayUp = newStatusDesc("ocsha_gateway_up",
		"1 when the PSTN gateway answers SIP OPTIONS (state Answering), else 0.",
		labelNamespace, labelPool, labelGateway, labelPath)
)

func init() {
	statusDescs = append(statusDescs, descRoleUp, descGatewayUp)
}

// roleSeries states each role server's and gateway's state; entries removed from the spec are
// left out until the next round drops them from the status.
func roleSeries(p *ocsv1.OCSPool, emit emitFunc) {
	roles := map[string]bool{}
	for _, r := range p.Spec.Roles {
		roles[r.Name] = true
	}
	for _, st := range p.Status.Roles {
		if roles[st.Name] {
			emit(descRoleUp, boolValue(st.State == ocsv1.ServerHealthy), p.Namespace, p.Name, st.Name, string(st.Role))
		}
	}
	gateways := map[string]bool{}
	for _, g := range p.Spec.Gateways {
		gateways[g.Name] = true
	}
	for _, st := range p.Status.Gateways {
		if gateways[st.Name] {
			emit(descGatewayUp, boolValue(st.State == ocsv1.GatewayAnswering), p.Namespace, p.Name, st.Name, st.Path)
		}
	}
}
