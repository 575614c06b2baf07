// Steward UI — labels in 中文 and English. t(key) looks the key up in the chosen language;
// static markup carries data-i18n="key" (text) or data-i18n-placeholder="key".
'use strict';

const DICT = {
  zh: {
    app_title: '城市管家', lang_other: 'English', loading: '加载中…',
    nav_cameras: '摄像机', nav_incidents: '事件', nav_sinks: '上报通道', nav_system: '系统', nav_users: '用户',
    logout: '退出', role_viewer: '查看', role_operator: '操作员', role_admin: '管理员',
    setup_title: '首次设置：创建管理员', setup_hint: '尚无用户。请创建第一个管理员账号（无默认密码）。',
    username: '用户名', password: '密码', password2: '再次输入密码', setup_submit: '创建并登录',
    passwords_differ: '两次输入的密码不一致', required: '必填',
    login_title: '登录', login_submit: '登录',
    add: '添加', edit: '编辑', delete: '删除', save: '保存', cancel: '取消', refresh: '刷新', open: '打开',
    confirm_delete: '确定删除 {0}？', saved: '已保存', deleted: '已删除', none: '无', all: '全部',
    yes: '是', no: '否', error: '错误', unchanged: '不变',
    cameras_title: '摄像机', camera_add: '添加摄像机', camera_edit: '编辑摄像机',
    col_id: '编号', col_name: '名称', col_state: '状态', col_fps: '帧率', col_last_frame: '最近帧',
    col_last_error: '最近错误', col_zones: '区域', col_actions: '操作',
    camera_id: '编号', camera_name: '名称', camera_url: '地址（rtsp:// 或 file:///）',
    camera_username: '用户名', camera_password: '密码', camera_fps: '分析帧率（每秒）',
    camera_decode: '解码', camera_transport: '传输', camera_pace: '文件播放速度', camera_loop: '文件循环播放',
    camera_gb28181: 'GB/T 28181 编号（20 位，可选）',
    decode_all: '全部帧', decode_keyframes: '仅关键帧', pace_fast: '尽快', pace_realtime: '实时',
    camera_test: '测试连接', camera_testing: '正在打开摄像机…', camera_test_ok: '已取得一帧',
    no_cameras: '尚无摄像机。',
    state_live: '在线', state_connecting: '连接中', state_stalled: '停滞', state_failed: '失败', state_ended: '已结束',
    state_unknown: '未知',
    zones_title: '区域编辑', snapshot_refresh: '刷新画面', snapshot_loading: '正在获取最新画面…',
    snapshot_failed: '暂无画面：{0}（将自动重试）', back_to_cameras: '← 摄像机列表',
    zone_new: '新建区域', zone_list: '区域', zone_id: '区域编号', zone_name: '区域名称',
    zone_save: '保存区域', zone_delete: '删除区域', zone_undo: '撤销最后一点', zone_clear: '清除所有点',
    zone_hint_new: '在画面上点击添加顶点；拖动顶点移动；双击或右键顶点删除。',
    zone_hint_edit: '拖动顶点移动；点击边线插入顶点；双击或右键顶点删除。',
    zone_hint_none: '从列表选择区域，或点击“新建区域”。',
    zone_points: '{0} 个顶点', zone_need_points: '至少需要 3 个顶点', zone_saved: '区域已保存',
    zone_unsaved: '请先保存区域', no_zones: '尚无区域。', rules: '规则',
    param_dwell_s: '持续时间（秒）', param_resolve_after_s: '消失多久后结案（秒）',
    param_renotify_s: '持续期间重复通知间隔（秒，空=关闭）', param_cooldown_s: '结案后冷却（秒）',
    param_miss_tolerance_s: '允许丢失时间（秒）', param_iou_threshold: '重叠阈值 IoU',
    param_min_confidence: '最低置信度', param_min_persons: '摊位最少人数', param_reach: '人与摊位最大距离（归一化）',
    param_static_objects: '把静止的未知物体也算作摊位', param_learn_s: '学习干净画面时长（秒）',
    param_threshold: '亮度差阈值', param_min_area: '最小面积（画面占比）', param_dark_ratio: '变暗比例',
    param_lit_level: '点亮亮度（0–255，空=自动学习）',
    sched_windows: '时段（逗号分隔，如 07:00-19:00, sunset+15m-22:00）',
    sched_weekdays: '星期（如 weekdays, mon-fri, weekends）', sched_dates: '仅限日期（YYYY-MM-DD 或 A..B）',
    sched_except_dates: '排除日期（YYYY-MM-DD 或 A..B）',
    capture_reference: '采集干净参考画面', reference_captured: '已采集参考画面', reference_current: '参考画面：{0}',
    record_lit_level: '记录当前亮度（须在灯亮时）', lit_level_recorded: '已记录亮度 {0}',
    not_a_number: '不是有效数字',
    incidents_title: '事件', filter_kind: '类型', filter_camera: '摄像机', filter_state: '状态',
    filter_since: '开始于', filter_until: '截至', filter_clear: '清除筛选',
    col_kind: '类型', col_camera: '摄像机', col_zone: '区域', col_opened: '发生时间', col_updated: '更新时间',
    col_delivery: '上报', no_incidents: '没有符合条件的事件。', total: '共 {0} 条', prev: '上一页', next: '下一页',
    istate_open: '进行中', istate_resolved: '已结案', event_open: '发生', event_update: '更新', event_resolved: '结案',
    dstate_pending: '待发送', dstate_delivered: '已送达', dstate_rejected: '被拒绝', dstate_failed: '失败',
    incident_title: '事件 {0}', back_to_incidents: '← 事件列表', incident_resend: '重新发送',
    resend_all: '所有通道', resend_done: '已重新排队', evidence: '证据', document: '上报内容',
    deliveries: '投递', col_sink: '通道', col_attempts: '尝试次数', col_last_status: '最近状态码',
    col_delivered_at: '送达时间', event_n: '第 {0} 次：{1}',
    delivery_log: '投递记录（{0} 次）', col_attempted_at: '时间', col_status: '状态码', col_latency: '耗时（毫秒）', col_error: '错误或答复',
    sinks_title: '上报通道', sink_add: '添加通道', sink_edit: '编辑通道', col_url: '地址', col_timeout: '超时（秒）',
    col_secret: '签名密钥', secret_set: '已设置', secret_not_set: '未设置', col_pending: '待发', col_delivered: '已送达',
    col_rejected: '被拒', sink_name: '名称', sink_url: '地址（https://…）', sink_secret: 'HMAC 密钥', sink_password: 'MQTT 密码',
    sink_timeout: '超时（秒）', sink_test: '发送测试事件', sink_testing: '发送中…',
    sink_test_result: '状态 {0}，耗时 {1} ms', no_sinks: '尚无上报通道。',
    secret_keep: '不变（留空保持原值）', secret_required: '创建时必填',
    sink_ca_file: '信任的 CA 证书（PEM 路径）', sink_client_cert: '客户端证书（PEM 路径，双向 TLS）', sink_client_key: '客户端私钥（PEM 路径）',
    pem_path_hint: '设备上的路径；留空则不用',
    codes_title: '事件编码表', codes_hint: '留空即使用国家默认编码。', col_default: '默认',
    codes_gb47678: 'GB/T 47678（5 位）', codes_cjt214: 'CJ/T 214', codes_city: '城市编码', codes_save: '保存编码表',
    system_title: '系统', sys_version: '版本', sys_uptime: '运行时间', sys_platform: '平台', sys_model: '模型',
    sys_inference: '推理', sys_inference_value: '{0} 次，平均 {1} ms', sys_outbox: '待发送记录', sys_disk: '存储',
    sys_disk_value: '{0}：已用 {1}，剩余 {2}', sys_quota: '存储配额', evidence_evicted: '已送达，为存储配额已删除', sys_quota_value: '{0}（已清理已送达证据 {1} 个）',
    sys_evidence_paused: '配额已被未送达数据占满：新事件暂不附证据图片', sys_config: '配置文件', sys_problems: '配置问题',
    sys_no_problems: '无', sys_cameras: '摄像机', col_latency: '延迟（ms）', log_tail: '日志（最近 200 行）',
    sys_raw: '原始数据',
    users_title: '用户', user_add: '添加用户', user_role: '角色', user_password_change: '修改密码',
    new_password: '新密码', password_changed: '密码已修改', no_users: '尚无用户。',
    tokens_title: 'API 令牌', token_name: '名称', token_role: '角色', token_create: '创建令牌',
    token_created: '新令牌（只显示这一次，请立即复制）：', col_created: '创建时间', col_last_used: '最近使用',
    no_tokens: '尚无令牌。', copy: '复制', copied: '已复制',
    forbidden: '权限不足', network_error: '无法连接到设备：{0}', retry_after: '请 {0} 秒后再试',
    session_expired: '登录已过期，请重新登录',
  },
  en: {
    app_title: 'Steward', lang_other: '中文', loading: 'Loading…',
    nav_cameras: 'Cameras', nav_incidents: 'Incidents', nav_sinks: 'Sinks', nav_system: 'System', nav_users: 'Users',
    logout: 'Sign out', role_viewer: 'viewer', role_operator: 'operator', role_admin: 'admin',
    setup_title: 'First run: create the administrator', setup_hint: 'No user exists yet. Create the first admin account (there is no default password).',
    username: 'User name', password: 'Password', password2: 'Repeat password', setup_submit: 'Create and sign in',
    passwords_differ: 'The passwords differ', required: 'Required',
    login_title: 'Sign in', login_submit: 'Sign in',
    add: 'Add', edit: 'Edit', delete: 'Delete', save: 'Save', cancel: 'Cancel', refresh: 'Refresh', open: 'Open',
    confirm_delete: 'Delete {0}?', saved: 'Saved', deleted: 'Deleted', none: 'none', all: 'All',
    yes: 'yes', no: 'no', error: 'Error', unchanged: 'unchanged',
    cameras_title: 'Cameras', camera_add: 'Add camera', camera_edit: 'Edit camera',
    col_id: 'ID', col_name: 'Name', col_state: 'State', col_fps: 'FPS', col_last_frame: 'Last frame',
    col_last_error: 'Last error', col_zones: 'Zones', col_actions: 'Actions',
    camera_id: 'ID', camera_name: 'Name', camera_url: 'URL (rtsp:// or file:///)',
    camera_username: 'User name', camera_password: 'Password', camera_fps: 'Analysis rate (frames/s)',
    camera_decode: 'Decode', camera_transport: 'Transport', camera_pace: 'File pace', camera_loop: 'Loop file',
    camera_gb28181: 'GB/T 28181 ID (20 digits, optional)',
    decode_all: 'all frames', decode_keyframes: 'key frames only', pace_fast: 'fast', pace_realtime: 'real time',
    camera_test: 'Test connection', camera_testing: 'Opening the camera…', camera_test_ok: 'Got a frame',
    no_cameras: 'No cameras yet.',
    state_live: 'live', state_connecting: 'connecting', state_stalled: 'stalled', state_failed: 'failed', state_ended: 'ended',
    state_unknown: 'unknown',
    zones_title: 'Zone editor', snapshot_refresh: 'Refresh frame', snapshot_loading: 'Fetching the latest frame…',
    snapshot_failed: 'No frame yet: {0} (retrying)', back_to_cameras: '← Cameras',
    zone_new: 'New zone', zone_list: 'Zones', zone_id: 'Zone ID', zone_name: 'Zone name',
    zone_save: 'Save zone', zone_delete: 'Delete zone', zone_undo: 'Undo last point', zone_clear: 'Clear points',
    zone_hint_new: 'Click the picture to add vertices; drag a vertex to move it; double-click or right-click a vertex to delete it.',
    zone_hint_edit: 'Drag a vertex to move it; click an edge to insert a vertex; double-click or right-click a vertex to delete it.',
    zone_hint_none: 'Pick a zone from the list, or press “New zone”.',
    zone_points: '{0} vertices', zone_need_points: 'At least 3 vertices are needed', zone_saved: 'Zone saved',
    zone_unsaved: 'Save the zone first', no_zones: 'No zones yet.', rules: 'Rules',
    param_dwell_s: 'Dwell (s)', param_resolve_after_s: 'Resolve after gone for (s)',
    param_renotify_s: 'Re-notify every (s, empty = off)', param_cooldown_s: 'Cooldown after resolved (s)',
    param_miss_tolerance_s: 'Miss tolerance (s)', param_iou_threshold: 'IoU threshold',
    param_min_confidence: 'Min confidence', param_min_persons: 'Min persons at the stall', param_reach: 'Reach (normalised)',
    param_static_objects: 'Count static unknown objects as stalls', param_learn_s: 'Learn clean picture for (s)',
    param_threshold: 'Luminance threshold', param_min_area: 'Min area (share of image)', param_dark_ratio: 'Dark ratio',
    param_lit_level: 'Lit level (0–255, empty = learned)',
    sched_windows: 'Windows (comma-separated, e.g. 07:00-19:00, sunset+15m-22:00)',
    sched_weekdays: 'Weekdays (e.g. weekdays, mon-fri, weekends)', sched_dates: 'Only on dates (YYYY-MM-DD or A..B)',
    sched_except_dates: 'Except dates (YYYY-MM-DD or A..B)',
    capture_reference: 'Capture clean reference', reference_captured: 'Reference captured', reference_current: 'Reference: {0}',
    record_lit_level: 'Record lit level (while lit)', lit_level_recorded: 'Lit level {0} recorded',
    not_a_number: 'Not a number',
    incidents_title: 'Incidents', filter_kind: 'Kind', filter_camera: 'Camera', filter_state: 'State',
    filter_since: 'Since', filter_until: 'Until', filter_clear: 'Clear filters',
    col_kind: 'Kind', col_camera: 'Camera', col_zone: 'Zone', col_opened: 'Opened', col_updated: 'Updated',
    col_delivery: 'Delivery', no_incidents: 'No incidents match.', total: '{0} in all', prev: 'Previous', next: 'Next',
    istate_open: 'open', istate_resolved: 'resolved', event_open: 'open', event_update: 'update', event_resolved: 'resolved',
    dstate_pending: 'pending', dstate_delivered: 'delivered', dstate_rejected: 'rejected', dstate_failed: 'failed',
    incident_title: 'Incident {0}', back_to_incidents: '← Incidents', incident_resend: 'Resend',
    resend_all: 'all sinks', resend_done: 'Queued again', evidence: 'Evidence', document: 'Document as sent',
    deliveries: 'Deliveries', col_sink: 'Sink', col_attempts: 'Attempts', col_last_status: 'Last status',
    col_delivered_at: 'Delivered at', event_n: '#{0}: {1}',
    delivery_log: 'Delivery log ({0} attempts)', col_attempted_at: 'Time', col_status: 'Status', col_latency: 'Latency (ms)', col_error: 'Error or answer',
    sinks_title: 'Sinks', sink_add: 'Add sink', sink_edit: 'Edit sink', col_url: 'URL', col_timeout: 'Timeout (s)',
    col_secret: 'Secret', secret_set: 'set', secret_not_set: 'not set', col_pending: 'Pending', col_delivered: 'Delivered',
    col_rejected: 'Rejected', sink_name: 'Name', sink_url: 'URL (https://…)', sink_secret: 'HMAC secret', sink_password: 'MQTT password',
    sink_timeout: 'Timeout (s)', sink_test: 'Send test incident', sink_testing: 'Sending…',
    sink_test_result: 'Status {0}, {1} ms', no_sinks: 'No sinks yet.',
    secret_keep: 'unchanged (leave empty to keep)', secret_required: 'required when creating',
    sink_ca_file: 'Trusted CA certificates (PEM path)', sink_client_cert: 'Client certificate (PEM path, mutual TLS)', sink_client_key: 'Client key (PEM path)',
    pem_path_hint: 'a path on the box; empty: none',
    codes_title: 'Event codes', codes_hint: 'Leave empty for the national default.', col_default: 'Default',
    codes_gb47678: 'GB/T 47678 (5 digits)', codes_cjt214: 'CJ/T 214', codes_city: 'City code', codes_save: 'Save codes',
    system_title: 'System', sys_version: 'Version', sys_uptime: 'Uptime', sys_platform: 'Platform', sys_model: 'Model',
    sys_inference: 'Inference', sys_inference_value: '{0} runs, mean {1} ms', sys_outbox: 'Outbox pending', sys_disk: 'Storage',
    sys_disk_value: '{0}: {1} used, {2} free', sys_quota: 'Storage quota', evidence_evicted: 'Delivered, then deleted to keep the storage quota', sys_quota_value: '{0} ({1} delivered evidence files deleted)',
    sys_evidence_paused: 'Quota full of undelivered data: new incidents go out without evidence pictures', sys_config: 'Config file', sys_problems: 'Config problems',
    sys_no_problems: 'none', sys_cameras: 'Cameras', col_latency: 'Latency (ms)', log_tail: 'Log (last 200 lines)',
    sys_raw: 'Raw data',
    users_title: 'Users', user_add: 'Add user', user_role: 'Role', user_password_change: 'Change password',
    new_password: 'New password', password_changed: 'Password changed', no_users: 'No users.',
    tokens_title: 'API tokens', token_name: 'Name', token_role: 'Role', token_create: 'Create token',
    token_created: 'New token (shown only this once — copy it now):', col_created: 'Created', col_last_used: 'Last used',
    no_tokens: 'No tokens.', copy: 'Copy', copied: 'Copied',
    forbidden: 'Not allowed for your role', network_error: 'Cannot reach the device: {0}', retry_after: 'Try again in {0} s',
    session_expired: 'The session has expired; sign in again',
  },
};

const KIND_LABELS = {
  illegal_parking: { zh: '机动车乱停放', en: 'Illegal parking' },
  street_vending: { zh: '占道经营', en: 'Street vending' },
  exposed_waste: { zh: '暴露垃圾', en: 'Exposed waste' },
  unlit_signage: { zh: '牌匾/景观灯不亮', en: 'Unlit signage' },
};
const KINDS = Object.keys(KIND_LABELS);

const LANG_KEY = 'steward.lang';

function initialLang() {
  let saved = null;
  try { saved = localStorage.getItem(LANG_KEY); } catch (_) { /* storage disabled */ }
  if (saved === 'zh' || saved === 'en') return saved;
  const nav = (navigator.languages && navigator.languages[0]) || navigator.language || 'zh';
  return nav.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

let LANG = initialLang();

function setLang(lang) {
  LANG = lang === 'en' ? 'en' : 'zh';
  try { localStorage.setItem(LANG_KEY, LANG); } catch (_) { /* storage disabled */ }
  applyStaticLabels();
}

/** The label for key, with {0}, {1}… replaced by args. Unknown keys show as themselves. */
function t(key, ...args) {
  const text = (DICT[LANG] && DICT[LANG][key]) || DICT.en[key] || key;
  return text.replace(/\{(\d+)\}/g, (m, i) => (args[i] === undefined ? m : String(args[i])));
}

/** A label for a key that may be missing (e.g. a state the UI does not know): the raw value. */
function tOr(key, fallback) {
  return (DICT[LANG] && DICT[LANG][key]) || DICT.en[key] || String(fallback);
}

function kindLabel(kind) {
  const entry = KIND_LABELS[kind];
  return entry ? entry[LANG] : String(kind || '');
}

function locale() {
  return LANG === 'zh' ? 'zh-CN' : 'en-GB';
}

function applyStaticLabels(root) {
  const scope = root || document;
  document.documentElement.lang = LANG === 'zh' ? 'zh-CN' : 'en';
  document.title = t('app_title');
  scope.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
  scope.querySelectorAll('[data-i18n-placeholder]').forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
}
