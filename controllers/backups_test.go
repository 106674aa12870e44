package controllers

import (
	"os"
	"path/filepath"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/backup"
	"github.com/ocsha/ocs-ha-operator/internal/backup/s3test"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
)

// s3Backup returns a ContactBackup of pool "pool" storing in bucket of srv, with credentials in
// Secret "s3-credentials".
func s3Backup(ns string, srv *s3test.Server, bucket string) *ocsv1.ContactBackup {
	b := validBackup(ns)
	b.Spec.Storage = ocsv1.StorageSpec{S3: &ocsv1.S3StorageSpec{
		Endpoint:             srv.Endpoint,
		Bucket:               bucket,
		Prefix:               "ocs/site-a",
		CredentialsSecretRef: ocsv1.LocalObjectReference{Name: "s3-credentials"},
		ForcePathStyle:       true,
	}}
	return b
}

// cbRequestVerify sets the verify-now annotation to token.
func cbRequestVerify(b *ocsv1.ContactBackup, token string) {
	GinkgoHelper()
	updateObject(b, func() {
		if b.Annotations == nil {
			b.Annotations = map[string]string{}
		}
		b.Annotations[ocsv1.AnnotationVerifyNow] = token
	})
}

// cbWaitVerified waits until the verify request token is handled and no action runs.
func cbWaitVerified(b *ocsv1.ContactBackup, token string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
		g.Expect(b.Status.LastHandledVerifyRequest).To(Equal(token))
		g.Expect(isTrue(b, ocsv1.ConditionReconciling)).To(BeFalse())
	}).Should(Succeed())
}

var _ = Describe("ContactBackup storage and restore drills", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("validates spec.storage.s3 and spec.verify, naming the fields", func() {
		srv := &s3test.Server{Endpoint: "https://s3.example.com"}
		refused := map[string]struct {
			mutate        func(*ocsv1.ContactBackup)
			field, phrase string
		}{
			"path and s3 both": {func(b *ocsv1.ContactBackup) { b.Spec.Storage.Path = "/var/lib/ocs-ha/backups" },
				"spec.storage", "exactly one of spec.storage.path and spec.storage.s3"},
			"an endpoint with a path": {func(b *ocsv1.ContactBackup) { b.Spec.Storage.S3.Endpoint = "https://s3.example.com/bucket" },
				"spec.storage.s3.endpoint", "without credentials, path or query"},
			"an endpoint with credentials": {func(b *ocsv1.ContactBackup) { b.Spec.Storage.S3.Endpoint = "https://k:s@s3.example.com" },
				"spec.storage.s3.endpoint", "without credentials"},
			"an ftp endpoint": {func(b *ocsv1.ContactBackup) { b.Spec.Storage.S3.Endpoint = "ftp://s3.example.com" },
				"spec.storage.s3.endpoint", "http(s)"},
			"an upper-case bucket": {func(b *ocsv1.ContactBackup) { b.Spec.Storage.S3.Bucket = "Backups" },
				"spec.storage.s3.bucket", "should match"},
			"a prefix with ..": {func(b *ocsv1.ContactBackup) { b.Spec.Storage.S3.Prefix = "ocs/../other" },
				"spec.storage.s3.prefix", "must not have . or .. segments"},
			"a prefix with a leading slash": {func(b *ocsv1.ContactBackup) { b.Spec.Storage.S3.Prefix = "/ocs" },
				"spec.storage.s3.prefix", "should match"},
			"object lock without maxAge": {func(b *ocsv1.ContactBackup) { b.Spec.Storage.S3.ObjectLock = &ocsv1.S3ObjectLockSpec{} },
				"spec", "spec.storage.s3.objectLock needs spec.retention.maxAge"},
			"a round trip without a canary": {func(b *ocsv1.ContactBackup) { b.Spec.Verify.RoundTrip = true },
				"spec.verify", "spec.verify.roundTrip needs spec.verify.canary"},
			"a canary that is no SIP URI": {func(b *ocsv1.ContactBackup) { b.Spec.Verify.Canary = "canary" },
				"spec.verify.canary", "should match"},
		}
		for name, tt := range refused {
			By(name)
			b := s3Backup(ns, srv, "backups")
			tt.mutate(b)
			expectRefused(b, tt.field, tt.phrase)
		}

		By("accepting a bucket with Object Lock, and defaulting region and verify.schedule")
		b := s3Backup(ns, srv, "backups")
		b.Spec.Retention.MaxAge = "720h"
		b.Spec.Storage.S3.ObjectLock = &ocsv1.S3ObjectLockSpec{}
		b.Spec.Verify = ocsv1.VerifySpec{RoundTrip: true, Canary: "sip:canary@corp.example.com"}
		Expect(k8sClient.Create(testCtx, b)).To(Succeed())
		Expect(b.Spec.Storage.S3.Region).To(Equal("us-east-1"))
		Expect(b.Spec.Storage.S3.ObjectLock.Mode).To(Equal("Governance"))
		Expect(b.Spec.Verify.Schedule).To(Equal(defaultVerifySchedule))
	})

	It("backs up to S3, reports the store's figures, and retries at once when a fixed Secret arrives", func() {
		srv := s3test.Start(GinkgoT())
		srv.CreateBucket(GinkgoT(), "ocs-backups", false)
		fake := cbFake(5, 4, "ocs1", "ocs2")
		cbStartManager(ns, Options{Agents: StaticProvider{Agent: fake}})
		cbCreatePool(ns, cbBothHealthy)
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "s3-credentials", Namespace: ns},
			Data:       map[string][]byte{ocsv1.S3AccessKeyIDKey: []byte(srv.AccessKeyID)},
		}
		Expect(k8sClient.Create(testCtx, secret)).To(Succeed())
		b := s3Backup(ns, srv, "ocs-backups")
		b.Spec.Retention.KeepLast = 2
		Expect(k8sClient.Create(testCtx, b)).To(Succeed())

		By("a Secret without the secret key: Stalled StorageUnavailable, naming the key")
		cbRequestBackup(b, "1")
		cbWaitHandled(b, "1")
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
			c := cbExpectCondition(g, b, ocsv1.ConditionStalled, metav1.ConditionTrue, ocsv1.ReasonStorageUnavailable)
			g.Expect(c.Message).To(ContainSubstring("spec.storage.s3.credentialsSecretRef"))
			g.Expect(c.Message).To(ContainSubstring(ocsv1.S3SecretAccessKeyKey))
		}).Should(Succeed())
		Expect(fake.Calls(ocs.OpExportContacts)).To(BeZero(), "no export without a place to write it")

		By("completing the Secret: the failed run is retried without a new request")
		updateObject(secret, func() { secret.Data[ocsv1.S3SecretAccessKeyKey] = []byte(srv.SecretAccessKey) })
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
			cbExpectCondition(g, b, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBackupSucceeded)
			cbExpectCondition(g, b, ocsv1.ConditionStalled, metav1.ConditionFalse, ocsv1.ReasonAsExpected)
			g.Expect(b.Status.Snapshots).To(HaveLen(1))
			g.Expect(b.Status.Store).NotTo(BeNil())
		}).Should(Succeed())
		first := b.Status.Store
		Expect(first.Bytes).To(Equal(first.LastSnapshotNewBytes), "the first snapshot is the whole store")
		Expect(first.DeduplicationRatio).To(Equal("1.0"))
		keys := srv.Keys(GinkgoT(), "ocs-backups", "ocs/site-a/"+ns+"/backup/snapshots/")
		Expect(keys).To(HaveLen(1))

		By("a second, unchanged snapshot adds little and doubles the deduplication ratio")
		cbRequestBackup(b, "2")
		cbWaitHandled(b, "2")
		Expect(b.Status.Store.DeduplicationRatio).To(Equal("2.0"))
		Expect(b.Status.Store.LastSnapshotNewBytes).To(BeNumerically("<", first.LastSnapshotNewBytes/4))
		Expect(b.Status.Store.Bytes).To(Equal(first.Bytes + b.Status.Store.LastSnapshotNewBytes))

		By("retention deleting objects on S3")
		for i := 3; i <= 4; i++ {
			fake.AddUser(cbSIP(0), "ocs1", cbContacts(0, 4, i)...)
			cbRequestBackup(b, strconv.Itoa(i))
			cbWaitHandled(b, strconv.Itoa(i))
		}
		Expect(srv.Keys(GinkgoT(), "ocs-backups", "ocs/site-a/"+ns+"/backup/snapshots/")).To(HaveLen(2))
		blobs := srv.Keys(GinkgoT(), "ocs-backups", "ocs/site-a/"+ns+"/backup/blobs/")
		// 10 users (user 0 in its newest version only, the older one pruned), 2 configuration
		// files, one user table per kept snapshot at most.
		Expect(len(blobs)).To(BeNumerically("<=", 10+2+2))
		Expect(b.Status.Store.Objects).To(Equal(int64(len(blobs) + 2)))

		By("verifying the newest snapshot on S3")
		cbRequestVerify(b, "v1")
		cbWaitVerified(b, "v1")
		cbExpectCondition(Default, b, ocsv1.ConditionVerified, metav1.ConditionTrue, ocsv1.ReasonSnapshotVerified)
		Expect(b.Status.LastVerifiedSnapshot).To(Equal(b.Status.Snapshots[0].Name))
	})

	It("detects a corrupted blob and a document that no longer encodes, and recovers", func() {
		fake := cbFake(5, 4, "ocs1", "ocs2")
		cbStartManager(ns, Options{Agents: StaticProvider{Agent: fake}})
		cbCreatePool(ns, cbBothHealthy)
		b := cbNewBackup(ns)
		Expect(k8sClient.Create(testCtx, b)).To(Succeed())

		By("waiting for the first drill with Verified Unknown")
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
			c := cbExpectCondition(g, b, ocsv1.ConditionVerified, metav1.ConditionUnknown, ocsv1.ReasonWaitingForVerify)
			g.Expect(c.Message).To(ContainSubstring("03:30:00Z"))
		}).Should(Succeed())

		By("a drill of an intact snapshot")
		cbRequestBackup(b, "1")
		cbWaitHandled(b, "1")
		cbRequestVerify(b, "v1")
		cbWaitVerified(b, "v1")
		snapshot := b.Status.Snapshots[0].Name
		c := cbExpectCondition(Default, b, ocsv1.ConditionVerified, metav1.ConditionTrue, ocsv1.ReasonSnapshotVerified)
		Expect(c.Message).To(ContainSubstring("10 users"))
		Expect(b.Status.LastVerifiedSnapshot).To(Equal(snapshot))
		Expect(b.Status.LastVerifiedTime).NotTo(BeNil())
		verifiedAt := b.Status.LastVerifiedTime

		By("a corrupted blob: Verified False BlobCorrupt, Degraded, a Warning event naming the user")
		repo, err := openRepository(testCtx, k8sClient, b)
		Expect(err).NotTo(HaveOccurred())
		ms, err := repo.List(testCtx)
		Expect(err).NotTo(HaveOccurred())
		e, err := repo.Entry(testCtx, ms[0], snapshotKey(cbSIP(6)))
		Expect(err).NotTo(HaveOccurred())
		blob := filepath.Join(b.Spec.Storage.Path, ns, b.Name, "blobs", e.Digest[:2], e.Digest)
		data, err := os.ReadFile(blob)
		Expect(err).NotTo(HaveOccurred())
		data[len(data)/2] ^= 0x08
		Expect(os.WriteFile(blob, data, 0o600)).To(Succeed())
		cbRequestVerify(b, "v2")
		cbWaitVerified(b, "v2")
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
			c := cbExpectCondition(g, b, ocsv1.ConditionVerified, metav1.ConditionFalse, ocsv1.ReasonBlobCorrupt)
			g.Expect(c.Message).To(ContainSubstring(cbSIP(6)))
			cbExpectCondition(g, b, ocsv1.ConditionDegraded, metav1.ConditionTrue, ocsv1.ReasonBlobCorrupt)
			g.Expect(b.Status.Phase).To(Equal("Degraded"))
			g.Expect(cbEvents(g, ns, b.Name)).To(HaveKeyWithValue(ocsv1.ReasonBlobCorrupt, And(HavePrefix("Warning"), ContainSubstring(cbSIP(6)))))
		}).Should(Succeed())
		Expect(b.Status.LastVerifiedTime).To(Equal(verifiedAt), "lastVerifiedTime is the last drill that passed")

		By("the next backup rewrites the damaged blob, and the next drill passes")
		cbRequestBackup(b, "2")
		cbWaitHandled(b, "2")
		cbRequestVerify(b, "v3")
		cbWaitVerified(b, "v3")
		cbExpectCondition(Default, b, ocsv1.ConditionVerified, metav1.ConditionTrue, ocsv1.ReasonSnapshotVerified)
		cbExpectCondition(Default, b, ocsv1.ConditionDegraded, metav1.ConditionFalse, ocsv1.ReasonAsExpected)

		By("a document that matches its digest but no longer decodes: DocumentNotEncodable")
		fake.AddUser(cbSIP(2), "ocs1", cbContacts(2, 4, 9)...)
		cbRequestBackup(b, "3")
		cbWaitHandled(b, "3")
		ms, err = repo.List(testCtx)
		Expect(err).NotTo(HaveOccurred())
		writeUndecodableSnapshot(repo, ms[0], cbSIP(2))
		cbRequestVerify(b, "v4")
		cbWaitVerified(b, "v4")
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
			c := cbExpectCondition(g, b, ocsv1.ConditionVerified, metav1.ConditionFalse, ocsv1.ReasonDocumentNotEncodable)
			g.Expect(c.Message).To(ContainSubstring(cbSIP(2)))
			g.Expect(c.Message).To(ContainSubstring("does not decode"))
			cbExpectCondition(g, b, ocsv1.ConditionDegraded, metav1.ConditionTrue, ocsv1.ReasonDocumentNotEncodable)
			g.Expect(cbEvents(g, ns, b.Name)).To(HaveKeyWithValue(ocsv1.ReasonDocumentNotEncodable, HavePrefix("Warning")))
		}).Should(Succeed())
	})

	It("does not run drills while suspended", func() {
		fake := cbFake(1, 1, "ocs1", "ocs2")
		cbStartManager(ns, Options{Agents: StaticProvider{Agent: fake}})
		cbCreatePool(ns, cbBothHealthy)
		b := cbNewBackup(ns)
		b.Spec.Suspend = true
		Expect(k8sClient.Create(testCtx, b)).To(Succeed())
		cbRequestVerify(b, "v1")
		Consistently(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
			g.Expect(b.Status.LastHandledVerifyRequest).To(BeEmpty())
		}, "2s").Should(Succeed())
		updateObject(b, func() { b.Spec.Suspend = false })
		cbWaitVerified(b, "v1")
		cbExpectCondition(Default, b, ocsv1.ConditionVerified, metav1.ConditionUnknown, ocsv1.ReasonNoSnapshot)
	})
})

// writeUndecodableSnapshot writes a snapshot like m, a second later, in which sip's list is bytes
// that match their digest but are no contact list: what a faulty exporter or a format of an older
// release would leave.
func writeUndecodableSnapshot(repo *backup.Repository, m *backup.Manifest, sip string) {
	GinkgoHelper()
	table, err := repo.Users(testCtx, m)
	Expect(err).NotTo(HaveOccurred())
	users := make(map[string]backup.UserData, len(table))
	for key, e := range table {
		data, err := repo.ReadUser(testCtx, m, key)
		Expect(err).NotTo(HaveOccurred())
		users[key] = backup.UserData{Server: e.Server, Data: data, Contacts: e.Contacts}
	}
	u := users[snapshotKey(sip)]
	u.Data = []byte(`<HomedResource xmlns="http://schemas.microsoft.com/RtcServer/2002/11/dbimpexp" UserAtHost="`)
	users[snapshotKey(sip)] = u
	_, err = repo.Write(testCtx, m.Pool, m.Time.Add(time.Second), users, m.Servers, nil)
	Expect(err).NotTo(HaveOccurred())
}
