package host

import (
	"fmt"
	"strings"
)

// Product is the server software an emulated site runs.
type Product string

// Products. The zero value is OCS 2007 R2.
const (
	ProductOCS2007R2        Product = "OCS2007R2"
	ProductSkypeForBusiness Product = "SkypeForBusiness"
)

// Tools an OCS 2007 R2 server may miss (Profile.MissingTools).
const (
	ToolLcscmd   = "lcscmd"
	ToolDBImpExp = "dbimpexp"
)

// Profile is the software of one emulated server beyond its product; the zero value is the
// product's default (inferred.go says what each default stands on).
type Profile struct {
	// PowerShell is the version powershell.exe runs: "1.0", "2.0" or "5.1" ("": 2.0 on OCS
	// 2007 R2, 5.1 on Skype for Business).
	PowerShell string
	// ConsoleWidth is where powershell.exe's output wraps (0: 80 on OCS 2007 R2, none on Skype
	// for Business; negative: none).
	ConsoleWidth int
	// MissingTools are tools absent from their install paths (ToolLcscmd, ToolDBImpExp).
	MissingTools []string
	// MissingModule removes the product's management interface: the MSFT_SIP* WMI classes of
	// OCS 2007 R2, the SkypeForBusiness module of Skype for Business.
	MissingModule bool
}

// merge applies the fields set in o over p.
func (p Profile) merge(o Profile) Profile {
	if o.PowerShell != "" {
		p.PowerShell = o.PowerShell
	}
	if o.ConsoleWidth != 0 {
		p.ConsoleWidth = o.ConsoleWidth
	}
	p.MissingTools = append(append([]string(nil), p.MissingTools...), o.MissingTools...)
	p.MissingModule = p.MissingModule || o.MissingModule
	return p
}

// resolve fills the product defaults and checks the values.
func (p Profile) resolve(product Product) (Profile, error) {
	switch p.PowerShell {
	case "":
		p.PowerShell = defaultPowerShell(product)
	case "1.0", "2.0", "5.1":
	default:
		return p, fmt.Errorf("PowerShell version %q: want 1.0, 2.0 or 5.1", p.PowerShell)
	}
	switch {
	case p.ConsoleWidth == 0:
		p.ConsoleWidth = defaultConsoleWidth(product)
	case p.ConsoleWidth < 0:
		p.ConsoleWidth = 0
	}
	for i, t := range p.MissingTools {
		t = strings.ToLower(strings.TrimSuffix(strings.ToLower(t), ".exe"))
		if t != ToolLcscmd && t != ToolDBImpExp {
			return p, fmt.Errorf("tool %q: want %s or %s", p.MissingTools[i], ToolLcscmd, ToolDBImpExp)
		}
		p.MissingTools[i] = t
	}
	return p, nil
}

func (p Profile) missing(tool string) bool {
	for _, t := range p.MissingTools {
		if t == tool {
			return true
		}
	}
	return false
}

// ParseProduct reads a product name, case-insensitively ("" is OCS 2007 R2).
func ParseProduct(s string) (Product, error) {
	switch strings.ToLower(s) {
	case "", strings.ToLower(string(ProductOCS2007R2)):
		return ProductOCS2007R2, nil
	case strings.ToLower(string(ProductSkypeForBusiness)):
		return ProductSkypeForBusiness, nil
	}
	return "", fmt.Errorf("product %q: want %s or %s", s, ProductOCS2007R2, ProductSkypeForBusiness)
}
