package main

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// secs is a duration written to JSON as seconds with microsecond precision.
type secs time.Duration

// MarshalJSON writes the duration in seconds, to the microsecond: the cost model's per-user
// costs are a few hundred microseconds, and --render rebuilds the report from these figures.
func (s secs) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(math.Round(time.Duration(s).Seconds()*1e6)/1e6, 'f', -1, 64)), nil
}

// UnmarshalJSON reads seconds.
func (s *secs) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*s = secs(time.Duration(math.Round(f * float64(time.Second))))
	return nil
}

func (s secs) String() string { return fmtDur(time.Duration(s)) }

// results is everything one run measured; it is written as bin/bench/results.json.
type results struct {
	Started  time.Time       `json:"started"`
	Finished time.Time       `json:"finished"`
	Machine  machine         `json:"machine"`
	Cost     costModel       `json:"costModel"`
	Config   runConfig       `json:"config"`
	Failover *failoverResult `json:"failover,omitempty"`
	Drain    *drainResult    `json:"drain,omitempty"`
	Manual   *manualResult   `json:"manual,omitempty"`
	Backup   *backupResult   `json:"backup,omitempty"`
	Scale    *scaleResult    `json:"scale,omitempty"`
	Micro    []microResult   `json:"micro,omitempty"`
	// Compare holds the same scenarios under a second cost model.
	Compare *comparison       `json:"compare,omitempty"`
	Errors  map[string]string `json:"errors,omitempty"`
}

// comparison is the failover, drain, backup and manual scenarios under another cost model.
type comparison struct {
	Cost     costModel       `json:"costModel"`
	Failover *failoverResult `json:"failover,omitempty"`
	Drain    *drainResult    `json:"drain,omitempty"`
	Manual   *manualResult   `json:"manual,omitempty"`
	Backup   *backupResult   `json:"backup,omitempty"`
}

// runConfig records the knobs of the run that shape the figures.
type runConfig struct {
	Users            int  `json:"users"`
	ContactsPerUser  int  `json:"contactsPerUser"`
	FailoverDelay    secs `json:"failoverDelaySeconds"`
	ProbeInterval    secs `json:"probeIntervalSeconds"`
	ProbeTimeout     secs `json:"probeTimeoutSeconds"`
	FailureThreshold int  `json:"failureThreshold"`
	MoveBatchSize    int  `json:"moveBatchSize"`
	PollInterval     secs `json:"pollIntervalSeconds"`
	ManualSample     int  `json:"manualSample"`
	ScalePools       int  `json:"scalePools"`
	ScaleUsers       int  `json:"scaleUsersPerPool"`
	ScaleContacts    int  `json:"scaleContactsPerUser"`
	ScaleDuration    secs `json:"scaleDurationSeconds"`
}

// machine describes where the run happened.
type machine struct {
	CPUs      int    `json:"nproc"`
	MemoryMiB int64  `json:"memoryMiB"`
	CPUModel  string `json:"cpuModel"`
	GoVersion string `json:"goVersion"`
	Kernel    string `json:"kernel,omitempty"`
	// LoadStart and LoadEnd are the 1-minute load averages before and after the run: the machine
	// may be shared, and its load moves every figure.
	LoadStart string `json:"loadAverageStart,omitempty"`
	LoadEnd   string `json:"loadAverageEnd,omitempty"`
}

// floor is the least time the cost model allows for an operation.
type floor struct {
	// Commands counts the commands each server ran in the operation's window.
	Commands map[string]int `json:"commands"`
	// ActiveServers is how many servers could share the per-user work (those up).
	ActiveServers int `json:"activeServers"`
	Moves         int `json:"moves"`
	Imports       int `json:"imports"`
	Exports       int `json:"exports,omitempty"`
	// ReadBacks are imported users exported again to verify the import (work.ReadBacks);
	// ReadBackTerm is their share of PerUserTerm.
	ReadBacks    int  `json:"readBacks,omitempty"`
	ReadBackTerm secs `json:"readBackTermSeconds,omitempty"`
	// NoReadBacks is what the floor would be without the read-backs.
	NoReadBacks secs `json:"floorWithoutReadBacksSeconds,omitempty"`
	// RoundTripTerm is the commands' round trips and program starts over the slots.
	RoundTripTerm secs `json:"roundTripTermSeconds"`
	ShellTerm     secs `json:"shellTermSeconds,omitempty"`
	PerUserTerm   secs `json:"perUserTermSeconds"`
	Floor         secs `json:"floorSeconds"`
}

// failoverResult is scenario 1.
type failoverResult struct {
	Users            int   `json:"users"`
	Evacuated        int   `json:"evacuated"`
	Detection        secs  `json:"detectionSeconds"`
	DetectionFloor   secs  `json:"detectionFloorSeconds"`
	DetectionCeiling secs  `json:"detectionCeilingSeconds"`
	Delay            secs  `json:"delaySeconds"`
	ConfiguredDelay  secs  `json:"configuredDelaySeconds"`
	Moves            secs  `json:"movesSeconds"`
	Restore          secs  `json:"restoreSeconds"`
	Action           secs  `json:"actionSeconds"`
	Total            secs  `json:"totalSeconds"`
	ActionFloor      floor `json:"actionFloor"`
	// TotalFloor is DetectionFloor + ActionFloor; the target adds the configured delay.
	TotalFloor       secs           `json:"totalFloorSeconds"`
	ActionRatio      float64        `json:"actionRatio"`
	TotalRatio       float64        `json:"totalRatio"`
	Forced           int32          `json:"forced"`
	ContactsRestored int32          `json:"contactsRestored"`
	Failed           int32          `json:"failed"`
	Ready            bool           `json:"ready"`
	UsersOnSurvivor  int            `json:"usersOnSurvivor"`
	ContactsMismatch int            `json:"usersWithWrongContactCount"`
	CommandKinds     map[string]int `json:"commandKinds"`
	OwnCost          *ownCostResult `json:"ownCost,omitempty"`
}

// ownCostResult is what the failover cost the processes themselves, crash to Ready: the
// manager's CPU and memory, and the emulator's CPU (outside the cost model), also per 1,000
// users failed over.
type ownCostResult struct {
	ManagerCPU          secs    `json:"managerCPUSeconds"`
	ManagerCPUPer1000   secs    `json:"managerCPUSecondsPer1000Users"`
	ManagerPeakRSSMiB   float64 `json:"managerPeakRSSMiB"`
	EmulatorCPU         secs    `json:"emulatorCPUSeconds"`
	EmulatorCPUPer1000  secs    `json:"emulatorCPUSecondsPer1000Users"`
	ManagerRSSBeforeMiB float64 `json:"managerRSSBeforeMiB"`
}

// drainResult is scenario 2.
type drainResult struct {
	Users            int            `json:"users"`
	Drained          int            `json:"drained"`
	Total            secs           `json:"totalSeconds"`
	Floor            floor          `json:"floor"`
	Ratio            float64        `json:"ratio"`
	ContactsMismatch int            `json:"usersWithWrongContactCount"`
	Lost             int            `json:"usersLost"`
	CommandKinds     map[string]int `json:"commandKinds"`
}

// manualResult is scenario 3.
type manualResult struct {
	Sample       int     `json:"sample"`
	Target       int     `json:"target"`
	Measured     secs    `json:"measuredSeconds"`
	Export       secs    `json:"exportSeconds"`
	MoveImport   secs    `json:"moveImportSeconds"`
	PerUser      secs    `json:"perUserSeconds"`
	Extrapolated bool    `json:"extrapolated"`
	Total        secs    `json:"totalSeconds"`
	Floor        floor   `json:"floor"`
	Ratio        float64 `json:"ratio"`
	Failed       int     `json:"failed"`
	// Ops times single agent operations at this scale, the operator's building blocks.
	Ops agentOps `json:"agentOperations"`
	// SpeedupAction compares the manual total with the operator's moves + restore;
	// SpeedupTotal with the operator's crash-to-Ready time less the configured delay.
	SpeedupAction float64 `json:"speedupVsOperatorAction"`
	SpeedupTotal  float64 `json:"speedupVsOperatorTotalLessDelay"`
}

// backupResult is scenario 5.
type backupResult struct {
	Users            int            `json:"users"`
	Changed          int            `json:"changedUsers"`
	FullTime         secs           `json:"fullSeconds"`
	FullBytes        int64          `json:"fullBytes"`
	FullContacts     int32          `json:"fullContacts"`
	IncrementalTime  secs           `json:"incrementalSeconds"`
	IncrementalBytes int64          `json:"incrementalBytes"`
	IncrementalUsers int32          `json:"incrementalUsers"`
	Commands         map[string]int `json:"commandsPerRun"`
	ExportFloor      secs           `json:"exportFloorSeconds"`
	IncrementalFloor secs           `json:"incrementalFloorSeconds,omitempty"`
}

// scaleResult is scenario 6.
type scaleResult struct {
	Pools        int     `json:"pools"`
	UsersPerPool int     `json:"usersPerPool"`
	Users        int     `json:"users"`
	Duration     secs    `json:"durationSeconds"`
	AllReady     secs    `json:"allReadySeconds"`
	PeakRSSMiB   float64 `json:"peakRSSMiB"`
	// PeakBeforeBackupsMiB is VmHWM when the first backup-now was requested.
	PeakBeforeBackupsMiB float64 `json:"peakRSSBeforeBackupsMiB"`
	FinalRSSMiB          float64 `json:"finalRSSMiB"`
	// FileRSSMiB is the part of the final RSS mapped from the manager's binary (RssFile).
	FileRSSMiB float64 `json:"fileRSSMiB,omitempty"`
	CPU        secs    `json:"cpuSeconds"`
	CPUPercent float64 `json:"cpuPercentOfOneCore"`
	Backups    int     `json:"backupsCompleted"`
	ReadyPools int     `json:"readyPools"`
}

// microResult is one Go benchmark line.
type microResult struct {
	Name        string  `json:"name"`
	Iterations  int64   `json:"iterations"`
	NsPerOp     float64 `json:"nsPerOp"`
	BytesPerOp  int64   `json:"bytesPerOp"`
	AllocsPerOp int64   `json:"allocsPerOp"`
}

// agentOps times one call of each agent operation the operator builds on (0: not measured).
type agentOps struct {
	BatchSize int `json:"batchSize"`
	// ExportHalf is ExportContacts on a server holding half the users (the whole server is exported).
	ExportHalf secs `json:"exportHalfSeconds"`
	// ExportAll is ExportContacts on the survivor after the manual moves; ExportAllUsers are homed there.
	ExportAll      secs `json:"exportAllSeconds"`
	ExportAllUsers int  `json:"exportAllUsers"`
	ListUsers      secs `json:"listUsersSeconds"`
	MoveBatch      secs `json:"forcedMoveBatchSeconds"`
	ImportBatch    secs `json:"importBatchSeconds"`
}
