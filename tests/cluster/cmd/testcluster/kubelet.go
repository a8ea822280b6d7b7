package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

const (
	// manualAnnotation on a pod or node with value "manual" makes the
	// stand-in leave that object alone entirely (no status, no deletion,
	// for a node: no lease or heartbeat either, so it goes NotReady).
	manualAnnotation = "kubeskippy.io/test-kubelet"
	manualValue      = "manual"

	// leaseDuration mirrors the kubelet default (40s); renewInterval is a
	// quarter of it, as the kubelet does.
	leaseDuration = 40 * time.Second
	renewInterval = 10 * time.Second
	// statusInterval is how often the Ready condition's heartbeat is
	// refreshed when nothing changed (the real kubelet: 5 minutes; the node
	// lifecycle controller relies on the lease in between).
	statusInterval = 60 * time.Second
	// nodeAddress is every fake node's InternalIP: loopback, so anything
	// that dials a "kubelet" (kubectl logs/exec) fails fast and locally.
	nodeAddress = "127.0.0.1"
)

// fakeKubelet plays the part of the kubelets of N nodes that do not exist:
// it registers the Node objects, keeps their leases and Ready condition
// fresh, reports pods bound to them as Running/Ready once, and completes the
// deletion of terminating pods.
type fakeKubelet struct {
	cs      kubernetes.Interface
	nodes   []string
	nodeIdx map[string]int
	version string

	podLister  corelisters.PodLister
	nodeLister corelisters.NodeLister
	queue      workqueue.TypedRateLimitingInterface[string]

	mu         sync.Mutex
	started    map[types.UID]bool // pods whose status we set (never touched again)
	deleted    map[types.UID]bool // pods we sent the final delete for
	nextIP     []int              // per node, last host byte handed out
	lastStatus map[string]time.Time
}

func newFakeKubelet(cs kubernetes.Interface, n int) *fakeKubelet {
	fk := &fakeKubelet{
		cs:         cs,
		nodeIdx:    map[string]int{},
		started:    map[types.UID]bool{},
		deleted:    map[types.UID]bool{},
		nextIP:     make([]int, n),
		lastStatus: map[string]time.Time{},
	}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("node-%d", i)
		fk.nodes = append(fk.nodes, name)
		fk.nodeIdx[name] = i
		fk.nextIP[i] = 1
	}
	return fk
}

func (fk *fakeKubelet) nodeNames() []string { return append([]string(nil), fk.nodes...) }

// registerNodes creates the Node objects with a healthy status and their
// leases, as kubelets do when they start.
func (fk *fakeKubelet) registerNodes(ctx context.Context) error {
	v, err := fk.cs.Discovery().ServerVersion()
	if err != nil {
		return err
	}
	fk.version = v.GitVersion
	for _, name := range fk.nodes {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				"kubernetes.io/hostname": name,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
				"kubeskippy.io/fake":     "true",
			},
		}}
		created, err := fk.cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("creating node %s: %w", name, err)
		}
		// Status is ignored on create; it goes through the subresource.
		created.Status = fk.nodeStatus(name, nil, time.Now())
		if _, err := fk.cs.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("setting status of node %s: %w", name, err)
		}
		fk.lastStatus[name] = time.Now()
		if err := fk.renewLease(ctx, created); err != nil {
			return err
		}
	}
	logf("registered %d fake node(s)", len(fk.nodes))
	return nil
}

// nodeStatus is a healthy node's status. old conditions keep their
// lastTransitionTime when their status does not change.
func (fk *fakeKubelet) nodeStatus(name string, old []corev1.NodeCondition, now time.Time) corev1.NodeStatus {
	res := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("8"),
		corev1.ResourceMemory:           resource.MustParse("32Gi"),
		corev1.ResourcePods:             resource.MustParse("110"),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		transition := metav1.NewTime(now)
		for _, o := range old {
			if o.Type == t && o.Status == s {
				transition = o.LastTransitionTime
			}
		}
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg,
			LastHeartbeatTime: metav1.NewTime(now), LastTransitionTime: transition}
	}
	return corev1.NodeStatus{
		Capacity:    res,
		Allocatable: res.DeepCopy(),
		Phase:       corev1.NodeRunning,
		Conditions: []corev1.NodeCondition{
			cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
			cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
			cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
			cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status (testcluster stand-in)"),
		},
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: nodeAddress},
			{Type: corev1.NodeHostName, Address: name},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID:               "testcluster-" + name,
			SystemUUID:              "testcluster-" + name,
			BootID:                  "testcluster-" + name,
			KernelVersion:           "fake",
			OSImage:                 "testcluster fake node",
			ContainerRuntimeVersion: "fake://0.0.0",
			KubeletVersion:          fk.version,
			OperatingSystem:         "linux",
			Architecture:            "amd64",
		},
	}
}

// renewLease creates or renews the node's Lease in kube-node-lease.
func (fk *fakeKubelet) renewLease(ctx context.Context, node *corev1.Node) error {
	leases := fk.cs.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	l, err := leases.Get(ctx, node.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		dur := int32(leaseDuration.Seconds())
		holder := node.Name
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{
				Name:      node.Name,
				Namespace: corev1.NamespaceNodeLease,
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID,
				}},
			},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &dur, RenewTime: &now},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	l.Spec.RenewTime = &now
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	return err
}

// run watches pods and keeps the nodes alive until ctx ends.
func (fk *fakeKubelet) run(ctx context.Context) {
	factory := informers.NewSharedInformerFactory(fk.cs, 0)
	podInf := factory.Core().V1().Pods()
	nodeInf := factory.Core().V1().Nodes()
	fk.podLister = podInf.Lister()
	fk.nodeLister = nodeInf.Lister()
	fk.queue = workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	defer fk.queue.ShutDown()

	enqueue := func(obj any) {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		if _, ours := fk.nodeIdx[pod.Spec.NodeName]; !ours {
			return
		}
		if key, err := cache.MetaNamespaceKeyFunc(pod); err == nil {
			fk.queue.Add(key)
		}
	}
	_, _ = podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				fk.forget(pod.UID)
			}
		},
	})
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), podInf.Informer().HasSynced, nodeInf.Informer().HasSynced) {
		return
	}

	for i := 0; i < 2; i++ {
		go func() {
			for fk.processNext(ctx) {
			}
		}()
	}

	ticker := time.NewTicker(renewInterval)
	defer ticker.Stop()
	for {
		fk.heartbeat(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// heartbeat renews every node's lease, and its status when the Ready
// condition is stale or not True (e.g. after the node lifecycle controller
// marked it Unknown during a long pause of this process).
func (fk *fakeKubelet) heartbeat(ctx context.Context) {
	for _, name := range fk.nodes {
		node, err := fk.nodeLister.Get(name)
		if err != nil {
			continue // deleted by a test: a real kubelet would not re-register either
		}
		if node.Annotations[manualAnnotation] == manualValue {
			continue
		}
		if err := fk.renewLease(ctx, node); err != nil && ctx.Err() == nil {
			logf("kubelet stand-in: renewing lease of %s: %v", name, err)
		}
		ready := false
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		if ready && time.Since(fk.lastStatus[name]) < statusInterval {
			continue
		}
		n := node.DeepCopy()
		n.Status = fk.nodeStatus(name, node.Status.Conditions, time.Now())
		n.Status.Images = node.Status.Images
		if _, err := fk.cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			if ctx.Err() == nil {
				logf("kubelet stand-in: updating status of %s: %v", name, err)
			}
			continue
		}
		fk.lastStatus[name] = time.Now()
	}
}

func (fk *fakeKubelet) forget(uid types.UID) {
	fk.mu.Lock()
	defer fk.mu.Unlock()
	delete(fk.started, uid)
	delete(fk.deleted, uid)
}

func (fk *fakeKubelet) processNext(ctx context.Context) bool {
	key, quit := fk.queue.Get()
	if quit {
		return false
	}
	defer fk.queue.Done(key)
	if err := fk.syncPod(ctx, key); err != nil && ctx.Err() == nil {
		if apierrors.IsConflict(err) {
			// Stale cache: the informer will deliver the newer object.
			fk.queue.Forget(key)
			return true
		}
		logf("kubelet stand-in: pod %s: %v (will retry)", key, err)
		fk.queue.AddRateLimited(key)
		return true
	}
	fk.queue.Forget(key)
	return true
}

// syncPod does for one pod what the kubelet of its node would do.
func (fk *fakeKubelet) syncPod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := fk.podLister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	nodeIdx, ours := fk.nodeIdx[pod.Spec.NodeName]
	if !ours || pod.Annotations[manualAnnotation] == manualValue {
		return nil
	}

	if pod.DeletionTimestamp != nil {
		// The containers "stopped" at once: finish the graceful deletion
		// the way the kubelet does, guarded by the UID so a recreated pod of
		// the same name is never hit.
		fk.mu.Lock()
		done := fk.deleted[pod.UID]
		fk.deleted[pod.UID] = true
		fk.mu.Unlock()
		if done {
			return nil // only finalizers keep it now; not our business
		}
		zero := int64(0)
		uid := pod.UID
		err := fk.cs.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{
			GracePeriodSeconds: &zero,
			Preconditions:      &metav1.Preconditions{UID: &uid},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			fk.mu.Lock()
			delete(fk.deleted, pod.UID)
			fk.mu.Unlock()
			return fmt.Errorf("completing deletion: %w", err)
		}
		return nil
	}

	fk.mu.Lock()
	started := fk.started[pod.UID]
	fk.mu.Unlock()
	if started {
		return nil // from now on its status belongs to the test
	}
	if len(pod.Status.ContainerStatuses) > 0 || (pod.Status.Phase != "" && pod.Status.Phase != corev1.PodPending) {
		// Someone (a test) already reported a status: leave it alone.
		fk.markStarted(pod.UID)
		return nil
	}

	updated := pod.DeepCopy()
	fk.runningStatus(updated, nodeIdx, time.Now())
	if _, err := fk.cs.CoreV1().Pods(ns).UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("setting Running: %w", err)
	}
	fk.markStarted(pod.UID)
	return nil
}

func (fk *fakeKubelet) markStarted(uid types.UID) {
	fk.mu.Lock()
	fk.started[uid] = true
	fk.mu.Unlock()
}

// podIP hands out addresses from 10.244.<node>.0/24. Nothing routes to
// them; they only make the status look like a real one.
func (fk *fakeKubelet) podIP(nodeIdx int) string {
	fk.mu.Lock()
	defer fk.mu.Unlock()
	n := fk.nextIP[nodeIdx] + 1
	if n > 254 {
		n = 2
	}
	fk.nextIP[nodeIdx] = n
	return fmt.Sprintf("10.244.%d.%d", nodeIdx%256, n)
}

// runningStatus fills pod.Status as the kubelet reports a pod whose init
// containers completed and whose containers all started and are ready.
func (fk *fakeKubelet) runningStatus(pod *corev1.Pod, nodeIdx int, now time.Time) {
	t := metav1.NewTime(now)
	ip := fk.podIP(nodeIdx)
	if pod.Spec.HostNetwork {
		ip = nodeAddress
	}
	st := &pod.Status
	st.Phase = corev1.PodRunning
	st.HostIP = nodeAddress
	st.HostIPs = []corev1.HostIP{{IP: nodeAddress}}
	st.PodIP = ip
	st.PodIPs = []corev1.PodIP{{IP: ip}}
	st.StartTime = &t
	st.Message, st.Reason = "", ""

	setCond := func(typ corev1.PodConditionType) {
		for i := range st.Conditions {
			if st.Conditions[i].Type == typ {
				if st.Conditions[i].Status != corev1.ConditionTrue {
					st.Conditions[i].Status = corev1.ConditionTrue
					st.Conditions[i].LastTransitionTime = t
					st.Conditions[i].Reason, st.Conditions[i].Message = "", ""
				}
				return
			}
		}
		st.Conditions = append(st.Conditions, corev1.PodCondition{Type: typ, Status: corev1.ConditionTrue, LastTransitionTime: t})
	}
	for _, c := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized,
		corev1.ContainersReady, corev1.PodReady, corev1.PodScheduled} {
		setCond(c)
	}

	id := func(name string) string { return "fake://" + string(pod.UID) + "/" + name }
	st.InitContainerStatuses = nil
	for _, c := range pod.Spec.InitContainers {
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: "fake://" + c.Image, ContainerID: id(c.Name)}
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			// A sidecar: it keeps running next to the main containers.
			started := true
			cs.Ready, cs.Started = true, &started
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: t}
		} else {
			cs.State.Terminated = &corev1.ContainerStateTerminated{Reason: "Completed", ExitCode: 0,
				StartedAt: t, FinishedAt: t, ContainerID: id(c.Name)}
		}
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
	}
	st.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		started := true
		st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: "fake://" + c.Image, ContainerID: id(c.Name),
			Ready: true, Started: &started, RestartCount: 0,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: t}},
		})
	}
}
