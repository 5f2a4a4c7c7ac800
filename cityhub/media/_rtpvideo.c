/*
 * cityhub.media._rtpvideo: the video RTP track of cityhub's RTSP client, in C.
 *
 * The same bookkeeping and depacketisation as cityhub.media.rtp.RtpTrack in front of a
 * VideoDepacketizer: H.264 (RFC 6184: single NAL units, STAP-A, FU-A) and H.265 (RFC 7798:
 * single NAL units, aggregation and fragmentation units, no DONL), with the same results
 * packet for packet; tests/media/test_rtp_fast.py feeds both the same streams,
 * losses and malformed packets included, and compares what comes out. The Python classes
 * stay the reference and the fallback when this module is not built.
 *
 * Why: at a few hundred RTP packets a second per camera, the interpreter's cost per packet
 * was about half of what recording a camera cost. VideoTrack.parse takes every interleaved
 * frame of a received batch that belongs to the video channel in one call, and an access
 * unit is assembled in one buffer of its own: one copy of each byte out of the receive
 * buffer, one into the packet's bytes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <stdint.h>
#include <string.h>

#define SEQ_MOD 65536
#define REORDER_WINDOW 0x8000
#define UNIT_MAX (64 * 1024 * 1024)
/* An access unit larger than this (64 MB) is damaged: a bound on what a broken or hostile
 * stream can make the reader hold. */

typedef struct {
    PyObject_HEAD
    /* RtpTrack */
    int payload_type;
    double tick;
    int has_wall_offset;
    double wall_offset;
    double wall_slack;
    int has_origin;
    uint32_t origin;
    long long packets;
    long long lost;
    long long malformed;
    int has_expected;
    unsigned int expected;
    uint32_t last_ts;
    long long ts;
    /* VideoDepacketizer */
    int hevc;
    int length_prefixed;
    long long frames;
    long long frames_dropped;
    PyObject *parameter_sets;     /* dict: NAL unit type -> bytes */
    PyObject *new_parameter_sets; /* deque of (packet, dict) */
    PyObject *reported_sets;      /* dict */
    int sets_changed;             /* parameter_sets changed since reported_sets was taken */
    PyObject *packet_type;        /* MediaPacket */
    unsigned char *unit;          /* the access unit under way */
    Py_ssize_t unit_len;
    Py_ssize_t unit_cap;
    int has_timestamp;
    long long timestamp;
    int keyframe;
    int slices;
    int fragment_open;
    Py_ssize_t fragment_slot;
    Py_ssize_t fragment_size;
    int damaged;
    int wait_keyframe;
} VideoTrack;

static int
unit_append(VideoTrack *self, const unsigned char *data, Py_ssize_t size)
{
    if (size == 0) {
        return 0;
    }
    if (size > UNIT_MAX - self->unit_len) {
        self->damaged = 1;
        return 0;
    }
    Py_ssize_t need = self->unit_len + size;
    if (need > self->unit_cap) {
        Py_ssize_t cap = self->unit_cap ? self->unit_cap : 65536;
        while (cap < need) {
            cap *= 2;
        }
        unsigned char *grown = PyMem_Realloc(self->unit, (size_t)cap);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        self->unit = grown;
        self->unit_cap = cap;
    }
    memcpy(self->unit + self->unit_len, data, (size_t)size);
    self->unit_len = need;
    return 0;
}

static void
put_be32(unsigned char *out, uint32_t value)
{
    out[0] = (unsigned char)(value >> 24);
    out[1] = (unsigned char)(value >> 16);
    out[2] = (unsigned char)(value >> 8);
    out[3] = (unsigned char)value;
}

static const unsigned char START_CODE[4] = {0, 0, 0, 1};

/* A NAL unit's type; the first slice of a picture must start the access unit. ``header`` is
 * the byte after the NAL unit header (its top bit: H.264's first_mb_in_slice is 0, H.265's
 * first_slice_segment_in_pic_flag), or -1 if there is none. */
static void
note_slice(VideoTrack *self, int kind, int header)
{
    if (self->hevc ? (kind >= 16 && kind <= 23) : kind == 5) { /* IRAP, IDR */
        self->keyframe = 1;
    }
    if (!self->slices && (self->hevc ? kind < 32 : (kind >= 1 && kind <= 5))) {
        self->slices = 1;
        if (header < 0 || !(header & 0x80)) {
            self->damaged = 1;
        }
    }
}

static int
take_unit(VideoTrack *self, const unsigned char *nal, Py_ssize_t size, int kind)
{
    unsigned char prefix[4];
    if (self->length_prefixed) {
        put_be32(prefix, (uint32_t)size);
    }
    else {
        memcpy(prefix, START_CODE, 4);
    }
    if (unit_append(self, prefix, 4) < 0 || unit_append(self, nal, size) < 0) {
        return -1;
    }
    if (self->hevc ? (kind >= 32 && kind <= 34) : (kind == 7 || kind == 8)) {
        PyObject *key = PyLong_FromLong(kind);
        if (key == NULL) {
            return -1;
        }
        PyObject *old = PyDict_GetItemWithError(self->parameter_sets, key);
        if (old == NULL && PyErr_Occurred()) {
            Py_DECREF(key);
            return -1;
        }
        if (old == NULL || PyBytes_GET_SIZE(old) != size ||
            memcmp(PyBytes_AS_STRING(old), nal, (size_t)size) != 0) {
            PyObject *data = PyBytes_FromStringAndSize((const char *)nal, size);
            if (data == NULL || PyDict_SetItem(self->parameter_sets, key, data) < 0) {
                Py_XDECREF(data);
                Py_DECREF(key);
                return -1;
            }
            Py_DECREF(data);
            self->sets_changed = 1;
        }
        Py_DECREF(key);
    }
    else {
        Py_ssize_t header = self->hevc ? 2 : 1;
        note_slice(self, kind, size > header ? nal[header] : -1);
    }
    return 0;
}

static int
nal_type(VideoTrack *self, const unsigned char *nal)
{
    return self->hevc ? (nal[0] >> 1) & 0x3F : nal[0] & 0x1F;
}

/* STAP-A (H.264) or an aggregation packet (H.265): units behind their 16-bit sizes. */
static int
take_aggregate(VideoTrack *self, const unsigned char *payload, Py_ssize_t end)
{
    Py_ssize_t pos = self->hevc ? 2 : 1;
    while (pos + 2 <= end) {
        Py_ssize_t size = ((Py_ssize_t)payload[pos] << 8) | payload[pos + 1];
        pos += 2;
        if (size == 0 || pos + size > end) {
            self->damaged = 1;
            return 0;
        }
        if (take_unit(self, payload + pos, size, nal_type(self, payload + pos)) < 0) {
            return -1;
        }
        pos += size;
    }
    return 0;
}

static void
end_fragment(VideoTrack *self)
{
    self->fragment_open = 0;
    if (self->length_prefixed && self->fragment_slot + 4 <= self->unit_len) {
        put_be32(self->unit + self->fragment_slot, (uint32_t)self->fragment_size);
    }
}

/* FU-A (H.264) or a fragmentation unit (H.265): the unit's header is rebuilt from the
 * payload header and the FU header at its start; the body follows ``first``. */
static int
take_fragment(VideoTrack *self, const unsigned char *payload, Py_ssize_t size)
{
    Py_ssize_t first = self->hevc ? 3 : 2;
    int flags = payload[first - 1];
    int kind = flags & (self->hevc ? 0x3F : 0x1F);
    if (flags & 0x80) { /* start */
        if (self->fragment_open) {
            self->damaged = 1; /* the previous fragmented unit never ended */
        }
        unsigned char header[2];
        Py_ssize_t header_size;
        if (self->hevc) {
            header[0] = (unsigned char)((payload[0] & 0x81) | (kind << 1));
            header[1] = payload[1];
            header_size = 2;
        }
        else {
            header[0] = (unsigned char)((payload[0] & 0xE0) | kind);
            header_size = 1;
        }
        self->fragment_open = 1;
        self->fragment_slot = self->unit_len;
        self->fragment_size = header_size;
        if (unit_append(self, START_CODE, 4) < 0 || unit_append(self, header, header_size) < 0) {
            return -1;
        }
        note_slice(self, kind, size > first ? payload[first] : -1);
    }
    else if (!self->fragment_open) {
        self->damaged = 1; /* its start was lost */
        return 0;
    }
    if (unit_append(self, payload + first, size - first) < 0) {
        return -1;
    }
    self->fragment_size += size - first;
    if (flags & 0x40) { /* end */
        end_fragment(self);
    }
    return 0;
}

/* The access unit under way is complete: append it to ``out`` unless damaged. */
static int
finish(VideoTrack *self, double now, PyObject *out)
{
    Py_ssize_t size = self->unit_len;
    int keyframe = self->keyframe;
    self->unit_len = 0;
    self->keyframe = 0;
    self->slices = 0;
    if (self->fragment_open) { /* the access unit ended inside a fragmented unit */
        self->fragment_open = 0;
        self->damaged = 1;
    }
    if (self->damaged) {
        self->damaged = 0;
        self->wait_keyframe = 1;
        self->frames_dropped++;
        return 0;
    }
    if (size == 0 || !self->has_timestamp) {
        return 0;
    }
    if (self->wait_keyframe) {
        if (!keyframe) {
            self->frames_dropped++;
            return 0;
        }
        self->wait_keyframe = 0;
    }
    self->frames++;
    PyObject *data = PyBytes_FromStringAndSize((const char *)self->unit, size);
    if (data == NULL) {
        return -1;
    }
    PyObject *packet = PyObject_CallFunction(self->packet_type, "NLLOd", data,
                                             self->timestamp, self->timestamp,
                                             keyframe ? Py_True : Py_False, now);
    if (packet == NULL) {
        return -1;
    }
    if (PyList_Append(out, packet) < 0) {
        Py_DECREF(packet);
        return -1;
    }
    if (keyframe && self->sets_changed) {
        int same = PyObject_RichCompareBool(self->parameter_sets, self->reported_sets, Py_EQ);
        if (same < 0) {
            Py_DECREF(packet);
            return -1;
        }
        self->sets_changed = 0;
        if (!same) {
            PyObject *copy = PyDict_Copy(self->parameter_sets);
            if (copy == NULL) {
                Py_DECREF(packet);
                return -1;
            }
            Py_SETREF(self->reported_sets, copy);
            PyObject *result = PyObject_CallMethod(self->new_parameter_sets, "append", "((OO))",
                                                   packet, copy);
            if (result == NULL) {
                Py_DECREF(packet);
                return -1;
            }
            Py_DECREF(result);
        }
    }
    Py_DECREF(packet);
    return 0;
}

static int
depacketize(VideoTrack *self, const unsigned char *payload, Py_ssize_t size, long long timestamp,
            int marker, double now, PyObject *out)
{
    if (!self->has_timestamp || timestamp != self->timestamp) {
        if ((self->unit_len > 0 || self->fragment_open) && finish(self, now, out) < 0) {
            return -1;
        }
        self->has_timestamp = 1;
        self->timestamp = timestamp;
    }
    if (size < (self->hevc ? 3 : 2)) {
        self->damaged = 1;
    }
    else {
        int kind = nal_type(self, payload);
        int failed = 0;
        if (self->hevc ? kind < 48 : (kind >= 1 && kind <= 23)) {
            failed = take_unit(self, payload, size, kind);
        }
        else if (kind == (self->hevc ? 48 : 24)) { /* STAP-A, AP */
            failed = take_aggregate(self, payload, size);
        }
        else if (kind == (self->hevc ? 49 : 28)) { /* FU-A, FU */
            failed = take_fragment(self, payload, size);
        }
        else { /* H.264 STAP-B, MTAP, FU-B (interleaved mode, refused at SETUP); H.265 PACI */
            self->damaged = 1;
        }
        if (failed < 0) {
            return -1;
        }
    }
    if (marker) {
        if (finish(self, now, out) < 0) {
            return -1;
        }
        self->has_timestamp = 0;
    }
    return 0;
}

static void
track_lost(VideoTrack *self)
{
    self->damaged = 1;
    self->fragment_open = 0;
}

static void
set_origin(VideoTrack *self, uint32_t rtptime)
{
    self->has_origin = 1;
    self->origin = rtptime;
    self->last_ts = rtptime;
    self->ts = 0;
    self->has_wall_offset = 0;
}

/* One RTP packet received at ``now``: RtpTrack.push. */
static int
push_packet(VideoTrack *self, const unsigned char *packet, Py_ssize_t size, double now,
            PyObject *out)
{
    if (size < 12) {
        self->malformed++;
        return 0;
    }
    int first = packet[0];
    int second = packet[1];
    unsigned int seq = ((unsigned int)packet[2] << 8) | packet[3];
    uint32_t timestamp = ((uint32_t)packet[4] << 24) | ((uint32_t)packet[5] << 16) |
                         ((uint32_t)packet[6] << 8) | (uint32_t)packet[7];
    Py_ssize_t offset = 12 + 4 * (first & 0x0F);
    if (first & 0x10) { /* header extension */
        if (size < offset + 4) {
            self->malformed++;
            return 0;
        }
        offset += 4 + 4 * (((Py_ssize_t)packet[offset + 2] << 8) | packet[offset + 3]);
    }
    Py_ssize_t end = (first & 0x20) ? size - packet[size - 1] : size; /* padding */
    if ((first >> 6) != 2 || offset > end || (second & 0x7F) != self->payload_type) {
        self->malformed++;
        return 0;
    }
    self->packets++;
    if (self->has_expected && seq != self->expected) {
        unsigned int gap = (seq - self->expected) & 0xFFFF;
        if (gap >= REORDER_WINDOW) {
            return 0; /* late or repeated: already counted as lost, its frame dropped */
        }
        self->lost += gap;
        track_lost(self);
    }
    self->has_expected = 1;
    self->expected = (seq + 1) & 0xFFFF;
    if (!self->has_origin) {
        set_origin(self, timestamp);
    }
    int64_t step = (int64_t)(uint32_t)(timestamp - self->last_ts);
    if (step >= ((int64_t)1 << 31)) {
        step -= ((int64_t)1 << 32);
    }
    self->ts += step;
    self->last_ts = timestamp;
    if (self->has_wall_offset) {
        double estimate = self->wall_offset + (double)self->ts * self->tick;
        if (now - self->wall_slack <= estimate && estimate <= now) {
            now = estimate;
        }
    }
    return depacketize(self, packet + offset, end - offset, self->ts, second & 0x80, now, out);
}

/* --- the Python type ------------------------------------------------------------------ */

static int
VideoTrack_init(VideoTrack *self, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"payload_type", "clock_rate", "packet_type", "length_prefixed",
                               "hevc", NULL};
    int payload_type;
    int clock_rate;
    PyObject *packet_type;
    int length_prefixed = 1;
    int hevc = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "iiO|pp", keywords, &payload_type, &clock_rate,
                                     &packet_type, &length_prefixed, &hevc)) {
        return -1;
    }
    if (!PyCallable_Check(packet_type)) {
        PyErr_SetString(PyExc_TypeError, "packet_type must be callable");
        return -1;
    }
    PyObject *collections = PyImport_ImportModule("collections");
    if (collections == NULL) {
        return -1;
    }
    PyObject *queue = PyObject_CallMethod(collections, "deque", NULL);
    Py_DECREF(collections);
    if (queue == NULL) {
        return -1;
    }
    PyObject *sets = PyDict_New();
    PyObject *reported = PyDict_New();
    if (sets == NULL || reported == NULL) {
        Py_XDECREF(sets);
        Py_XDECREF(reported);
        Py_DECREF(queue);
        return -1;
    }
    Py_XSETREF(self->parameter_sets, sets);
    Py_XSETREF(self->reported_sets, reported);
    Py_XSETREF(self->new_parameter_sets, queue);
    Py_INCREF(packet_type);
    Py_XSETREF(self->packet_type, packet_type);
    self->payload_type = payload_type;
    self->tick = clock_rate > 0 ? 1.0 / clock_rate : 0.0;
    self->length_prefixed = length_prefixed;
    self->hevc = hevc;
    self->has_wall_offset = 0;
    self->has_origin = 0;
    self->has_expected = 0;
    self->has_timestamp = 0;
    self->packets = self->lost = self->malformed = 0;
    self->frames = self->frames_dropped = 0;
    self->last_ts = 0;
    self->ts = 0;
    self->unit_len = 0;
    self->keyframe = self->slices = self->fragment_open = 0;
    self->damaged = self->wait_keyframe = 0;
    self->sets_changed = 0;
    return 0;
}

static int
VideoTrack_traverse(VideoTrack *self, visitproc visit, void *arg)
{
    Py_VISIT(self->parameter_sets);
    Py_VISIT(self->new_parameter_sets);
    Py_VISIT(self->reported_sets);
    Py_VISIT(self->packet_type);
    return 0;
}

static int
VideoTrack_clear(VideoTrack *self)
{
    Py_CLEAR(self->parameter_sets);
    Py_CLEAR(self->new_parameter_sets);
    Py_CLEAR(self->reported_sets);
    Py_CLEAR(self->packet_type);
    return 0;
}

static void
VideoTrack_dealloc(VideoTrack *self)
{
    PyObject_GC_UnTrack(self);
    VideoTrack_clear(self);
    PyMem_Free(self->unit);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
check_ready(VideoTrack *self)
{
    if (self->packet_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "VideoTrack.__init__ was not called");
        return -1;
    }
    return 0;
}

static PyObject *
VideoTrack_push(VideoTrack *self, PyObject *args)
{
    Py_buffer packet;
    double now;
    PyObject *out;
    if (!PyArg_ParseTuple(args, "y*dO!", &packet, &now, &PyList_Type, &out)) {
        return NULL;
    }
    int failed = check_ready(self) < 0 ||
                 push_packet(self, packet.buf, packet.len, now, out) < 0;
    PyBuffer_Release(&packet);
    if (failed) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
VideoTrack_parse(VideoTrack *self, PyObject *args)
{
    Py_buffer buffer;
    Py_ssize_t pos;
    Py_ssize_t end;
    double now;
    PyObject *out;
    int channel = 0;
    if (!PyArg_ParseTuple(args, "y*nndO!|i", &buffer, &pos, &end, &now, &PyList_Type, &out,
                          &channel)) {
        return NULL;
    }
    if (check_ready(self) < 0) {
        PyBuffer_Release(&buffer);
        return NULL;
    }
    if (pos < 0 || end < pos || end > buffer.len) {
        PyBuffer_Release(&buffer);
        PyErr_SetString(PyExc_ValueError, "pos and end must satisfy 0 <= pos <= end <= len");
        return NULL;
    }
    const unsigned char *data = buffer.buf;
    while (end - pos >= 4 && data[pos] == 0x24 && data[pos + 1] == channel) {
        Py_ssize_t size = ((Py_ssize_t)data[pos + 2] << 8) | data[pos + 3];
        if (pos + 4 + size > end) {
            break;
        }
        if (push_packet(self, data + pos + 4, size, now, out) < 0) {
            PyBuffer_Release(&buffer);
            return NULL;
        }
        pos += 4 + size;
    }
    PyBuffer_Release(&buffer);
    return PyLong_FromSsize_t(pos);
}

static PyObject *
VideoTrack_set_origin(VideoTrack *self, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"rtptime", "seq", NULL};
    unsigned long long rtptime;
    PyObject *seq = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "K|O", keywords, &rtptime, &seq)) {
        return NULL;
    }
    set_origin(self, (uint32_t)rtptime);
    if (seq != Py_None) {
        long value = PyLong_AsLong(seq);
        if (value == -1 && PyErr_Occurred()) {
            return NULL;
        }
        self->has_expected = 1;
        self->expected = (unsigned int)value & 0xFFFF;
    }
    Py_RETURN_NONE;
}

static PyObject *
VideoTrack_set_clock(VideoTrack *self, PyObject *args)
{
    double now;
    double slack;
    if (!PyArg_ParseTuple(args, "dd", &now, &slack)) {
        return NULL;
    }
    if (self->has_origin && self->tick != 0.0) {
        self->has_wall_offset = 1;
        self->wall_offset = now - (double)self->ts * self->tick;
        self->wall_slack = slack;
    }
    Py_RETURN_NONE;
}

static PyObject *
VideoTrack_get_origin(VideoTrack *self, void *closure)
{
    if (!self->has_origin) {
        Py_RETURN_NONE;
    }
    return PyLong_FromUnsignedLong(self->origin);
}

static PyObject *
VideoTrack_get_self(VideoTrack *self, void *closure)
{
    return Py_NewRef(self);
}

static PyObject *
VideoTrack_get_fragment_open(VideoTrack *self, void *closure)
{
    return PyBool_FromLong(self->fragment_open);
}

static PyMethodDef VideoTrack_methods[] = {
    {"push", (PyCFunction)VideoTrack_push, METH_VARARGS,
     "push(packet, now, out): take one RTP packet received at now (POSIX seconds)."},
    {"parse", (PyCFunction)VideoTrack_parse, METH_VARARGS,
     "parse(buffer, pos, end, now, out, channel=0) -> int: take the interleaved frames of "
     "channel from buffer[pos:end] up to the first of another channel, an RTSP message or an "
     "incomplete frame; returns where it stopped."},
    {"set_origin", (PyCFunction)(void (*)(void))VideoTrack_set_origin,
     METH_VARARGS | METH_KEYWORDS,
     "set_origin(rtptime, seq=None): count timestamps from rtptime; seq is the first due."},
    {"set_clock", (PyCFunction)VideoTrack_set_clock, METH_VARARGS,
     "set_clock(now, slack): the packets taken so far arrived by now (see RtpTrack)."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef VideoTrack_members[] = {
    {"payload_type", T_INT, offsetof(VideoTrack, payload_type), READONLY, "RTP payload type."},
    {"packets", T_LONGLONG, offsetof(VideoTrack, packets), READONLY, "RTP packets taken."},
    {"lost", T_LONGLONG, offsetof(VideoTrack, lost), READONLY, "RTP packets missing."},
    {"malformed", T_LONGLONG, offsetof(VideoTrack, malformed), READONLY,
     "RTP packets refused as malformed."},
    {"frames", T_LONGLONG, offsetof(VideoTrack, frames), READONLY, "Access units handed out."},
    {"frames_dropped", T_LONGLONG, offsetof(VideoTrack, frames_dropped), READONLY,
     "Access units left out because packets they needed were lost."},
    {"hevc", T_BOOL, offsetof(VideoTrack, hevc), READONLY, "H.265 (else H.264)."},
    {"length_prefixed", T_BOOL, offsetof(VideoTrack, length_prefixed), READONLY,
     "Units preceded by their four-byte length (else four-byte start codes)."},
    {"parameter_sets", T_OBJECT_EX, offsetof(VideoTrack, parameter_sets), READONLY,
     "The last in-band SPS and PPS, by NAL unit type."},
    {"new_parameter_sets", T_OBJECT_EX, offsetof(VideoTrack, new_parameter_sets), READONLY,
     "Keyframes that came with other parameter sets than the previous one, and those."},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef VideoTrack_getset[] = {
    {"origin", (getter)VideoTrack_get_origin, NULL, "The RTP timestamp counted from.", NULL},
    {"depacketizer", (getter)VideoTrack_get_self, NULL, "The track itself.", NULL},
    {"fragment_open", (getter)VideoTrack_get_fragment_open, NULL,
     "Whether a fragmented NAL unit is under way.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject VideoTrackType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cityhub.media._rtpvideo.VideoTrack",
    .tp_doc = PyDoc_STR("VideoTrack(payload_type, clock_rate, packet_type, length_prefixed=True, "
                        "hevc=False): an H.264 or H.265 RTP track and its depacketiser (see "
                        "cityhub.media.rtp)."),
    .tp_basicsize = sizeof(VideoTrack),
    .tp_itemsize = 0,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)VideoTrack_init,
    .tp_dealloc = (destructor)VideoTrack_dealloc,
    .tp_traverse = (traverseproc)VideoTrack_traverse,
    .tp_clear = (inquiry)VideoTrack_clear,
    .tp_methods = VideoTrack_methods,
    .tp_members = VideoTrack_members,
    .tp_getset = VideoTrack_getset,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "cityhub.media._rtpvideo",
    .m_doc = PyDoc_STR("The video RTP track of cityhub's RTSP client, in C."),
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__rtpvideo(void)
{
    if (PyType_Ready(&VideoTrackType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(m, "VideoTrack", (PyObject *)&VideoTrackType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
